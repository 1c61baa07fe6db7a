#include "backend/hypervisor/kvm/kvm_vm.h"

#include <linux/kvm.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_msr_filter.h"
#include "backend/hypervisor/kvm/kvm_vcpu.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv::kvm {
namespace {

// VMX needs a 3-page TSS area and an identity-map page for real-mode and
// unrestricted-guest-less operation, outside guest RAM (same spot as QEMU).
constexpr uint64_t kIdentityMapGpa = 0xfeffc000;
constexpr uint64_t kTssGpa = 0xfeffd000;
static_assert(kIdentityMapGpa >= kMmioHoleStart && kTssGpa + 3 * 4096 <= kMmioHoleEnd);

absl::Status EnableCap(int vm_fd, uint32_t capability, uint64_t arg0, absl::string_view name) {
  kvm_enable_cap cap{};
  cap.cap = capability;
  cap.args[0] = arg0;
  return Ioctl(vm_fd, KVM_ENABLE_CAP, absl::StrCat("KVM_ENABLE_CAP(", name, ")"), &cap).status();
}

PicState FromKvm(const kvm_pic_state& p) {
  return {p.last_irr, p.irr, p.imr, p.isr, p.priority_add, p.irq_base, p.read_reg_select, p.poll,
          p.special_mask, p.init_state, p.auto_eoi, p.rotate_on_auto_eoi, p.special_fully_nested_mode,
          p.init4, p.elcr, p.elcr_mask};
}

kvm_pic_state ToKvm(const PicState& p) {
  kvm_pic_state k{};
  k.last_irr = p.last_irr, k.irr = p.irr, k.imr = p.imr, k.isr = p.isr, k.priority_add = p.priority_add;
  k.irq_base = p.irq_base, k.read_reg_select = p.read_reg_select, k.poll = p.poll;
  k.special_mask = p.special_mask, k.init_state = p.init_state, k.auto_eoi = p.auto_eoi;
  k.rotate_on_auto_eoi = p.rotate_on_auto_eoi, k.special_fully_nested_mode = p.special_fully_nested_mode;
  k.init4 = p.init4, k.elcr = p.elcr, k.elcr_mask = p.elcr_mask;
  return k;
}

}  // namespace

absl::StatusOr<Fd> CreateConfiguredVm(int kvm_fd) {
  absl::StatusOr<int> vm = Ioctl(kvm_fd, KVM_CREATE_VM, "KVM_CREATE_VM", 0ul);
  if (!vm.ok()) return vm.status();
  Fd vm_fd(*vm);
  uint64_t identity_map = kIdentityMapGpa;
  if (absl::Status s = Ioctl(vm_fd.get(), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR", &identity_map)
                           .status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          Ioctl(vm_fd.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", static_cast<unsigned long>(kTssGpa)).status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Ioctl(vm_fd.get(), KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP").status(); !s.ok()) return s;
  if (absl::Status s = EnableCap(vm_fd.get(), KVM_CAP_X2APIC_API,
                                 KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
                                 "KVM_CAP_X2APIC_API");
      !s.ok()) {
    return s;
  }
  // Only MSRs an MSR filter denies exit to user space; others behave as KVM
  // emulates them (unknown ones #GP). The filter reason must be on before a
  // filter is installed.
  if (absl::Status s = EnableCap(vm_fd.get(), KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_FILTER,
                                 "KVM_CAP_X86_USER_SPACE_MSR");
      !s.ok()) {
    return s;
  }
  return vm_fd;
}

absl::StatusOr<std::unique_ptr<KvmVm>> KvmVm::Create(Host host, const VmConfig& config) {
  absl::StatusOr<Fd> vm_fd = CreateConfiguredVm(host.kvm_fd.get());
  if (!vm_fd.ok()) return vm_fd.status();
  return std::unique_ptr<KvmVm>(new KvmVm(std::move(host), *std::move(vm_fd), config));
}

absl::Status KvmVm::SetSlotsLocked(bool dirty_logging) {
  for (size_t i = 0; i < memory_->regions().size(); ++i) {
    const GuestMemory::Region& r = memory_->regions()[i];
    kvm_userspace_memory_region region{};
    region.slot = static_cast<uint32_t>(i);
    region.flags = dirty_logging ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    region.guest_phys_addr = r.gpa;
    region.memory_size = r.size;
    region.userspace_addr = reinterpret_cast<uint64_t>(r.host);
    if (absl::Status s = Ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION,
                               absl::StrCat("KVM_SET_USER_MEMORY_REGION(slot ", i, ")"), &region)
                             .status();
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status KvmVm::MapMemory(GuestMemory& memory) {
  absl::MutexLock lock(&mu_);
  if (memory_ != nullptr) return absl::FailedPreconditionError("the VM's guest memory is already mapped");
  memory_ = &memory;
  absl::Status s = SetSlotsLocked(/*dirty_logging=*/false);
  if (!s.ok()) memory_ = nullptr;
  return s;
}

absl::Status KvmVm::SetDirtyLogging(bool enabled) {
  absl::MutexLock lock(&mu_);
  if (memory_ == nullptr) return absl::FailedPreconditionError("dirty logging needs the guest memory mapped");
  if (enabled == dirty_logging_) return absl::OkStatus();
  if (absl::Status s = SetSlotsLocked(enabled); !s.ok()) return s;
  dirty_logging_ = enabled;
  return absl::OkStatus();
}

absl::StatusOr<DirtyBitmap> KvmVm::TakeDirtyLog() {
  absl::MutexLock lock(&mu_);
  if (!dirty_logging_) return absl::FailedPreconditionError("dirty logging is off");
  DirtyBitmap bitmap;
  for (size_t i = 0; i < memory_->regions().size(); ++i) {
    const GuestMemory::Region& r = memory_->regions()[i];
    DirtyBitmap::Region& out = bitmap.region(bitmap.AddRegion(r.gpa, r.size));
    kvm_dirty_log log{};
    log.slot = static_cast<uint32_t>(i);
    log.dirty_bitmap = out.words.data();
    if (absl::Status s = Ioctl(vm_fd_.get(), KVM_GET_DIRTY_LOG, absl::StrCat("KVM_GET_DIRTY_LOG(slot ", i, ")"), &log)
                             .status();
        !s.ok()) {
      return s;
    }
  }
  return bitmap;
}

absl::StatusOr<std::unique_ptr<Vcpu>> KvmVm::CreateVcpu(uint32_t id) {
  absl::MutexLock lock(&mu_);
  if (id >= config_.vcpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("vCPU id ", id, " is out of range: the VM has ", config_.vcpus, " vCPU(s)"));
  }
  if (vcpu_created_[id]) return absl::AlreadyExistsError(absl::StrCat("vCPU ", id, " already exists"));
  absl::StatusOr<int> fd =
      Ioctl(vm_fd_.get(), KVM_CREATE_VCPU, absl::StrCat("KVM_CREATE_VCPU(", id, ")"), static_cast<unsigned long>(id));
  if (!fd.ok()) return fd.status();
  Fd vcpu_fd(*fd);
  // CPUID first: KVM validates EFER and CR4 in KVM_SET_SREGS against it.
  if (absl::Status s = SetVcpuCpuid(vcpu_fd.get(),
                                    cpu::BuildVcpuCpuid(base_cpuid_, {.vcpu_id = id, .vcpus = config_.vcpus}, config_.cpuid));
      !s.ok()) {
    return s;
  }
  const int xsave2 = CheckExtension(vm_fd_.get(), KVM_CAP_XSAVE2);
  absl::StatusOr<std::unique_ptr<KvmVcpu>> vcpu =
      KvmVcpu::Create(id, std::move(vcpu_fd), host_.run_size,
                      {.xsave_size = xsave2 > 0 ? static_cast<size_t>(xsave2) : 0,
                       .msr_index_list = host_.msr_index_list});
  if (!vcpu.ok()) return vcpu.status();
  vcpu_created_[id] = true;
  return std::unique_ptr<Vcpu>(*std::move(vcpu));
}

absl::Status KvmVm::SetMsrFilter(const msr::MsrFilter& filter) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = kvm::SetMsrFilter(vm_fd_.get(), filter, &msr_exit_reasons_); !s.ok()) return s;
  msr_filter_ = filter;
  return absl::OkStatus();
}

absl::Status KvmVm::SignalMsi(const MsiMessage& msi) {
  kvm_msi k{};
  k.address_lo = msi.address_lo;
  k.address_hi = msi.address_hi;
  k.data = msi.data;
  return Ioctl(vm_fd_.get(), KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", &k).status();
}

absl::StatusOr<uint32_t> KvmVm::AddMsiRoute(const MsiMessage& msi) { return gsi_routing_.AddMsiRoute(vm_fd_.get(), msi); }

absl::Status KvmVm::RemoveMsiRoute(uint32_t gsi) { return gsi_routing_.RemoveMsiRoute(vm_fd_.get(), gsi); }

absl::Status KvmVm::Irqfd(uint32_t gsi, int eventfd, int resample_eventfd, uint32_t flags) {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd);
  irqfd.gsi = gsi;
  irqfd.flags = flags;
  if (resample_eventfd >= 0) {
    irqfd.flags |= KVM_IRQFD_FLAG_RESAMPLE;
    irqfd.resamplefd = static_cast<uint32_t>(resample_eventfd);
  }
  return Ioctl(vm_fd_.get(), KVM_IRQFD,
               (flags & KVM_IRQFD_FLAG_DEASSIGN) != 0 ? "KVM_IRQFD(deassign)" : "KVM_IRQFD", &irqfd)
      .status();
}

absl::Status KvmVm::AssignIrqfd(uint32_t gsi, int eventfd, int resample_eventfd) {
  if (resample_eventfd >= 0 && CheckExtension(vm_fd_.get(), KVM_CAP_IRQFD_RESAMPLE) <= 0) {
    return absl::FailedPreconditionError("KVM lacks KVM_CAP_IRQFD_RESAMPLE (level-triggered irqfds)");
  }
  return Irqfd(gsi, eventfd, resample_eventfd, 0);
}

absl::Status KvmVm::DeassignIrqfd(uint32_t gsi, int eventfd) { return Irqfd(gsi, eventfd, -1, KVM_IRQFD_FLAG_DEASSIGN); }

absl::Status KvmVm::Ioeventfd(const IoEventfd& e, bool deassign) {
  kvm_ioeventfd k{};
  k.addr = e.address;
  k.len = e.length;
  k.fd = e.eventfd;
  if (e.space == IoEventfd::Space::kPio) k.flags |= KVM_IOEVENTFD_FLAG_PIO;
  if (e.datamatch) {
    k.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
    k.datamatch = *e.datamatch;
  }
  if (deassign) k.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
  return Ioctl(vm_fd_.get(), KVM_IOEVENTFD, deassign ? "KVM_IOEVENTFD(deassign)" : "KVM_IOEVENTFD", &k).status();
}

absl::Status KvmVm::AssignIoeventfd(const IoEventfd& e) { return Ioeventfd(e, false); }
absl::Status KvmVm::DeassignIoeventfd(const IoEventfd& e) { return Ioeventfd(e, true); }

absl::StatusOr<VmState> KvmVm::SaveState() {
  VmState state;
  kvm_clock_data clock{};
  if (absl::Status s = Ioctl(vm_fd_.get(), KVM_GET_CLOCK, "KVM_GET_CLOCK", &clock).status(); !s.ok()) return s;
  state.clock.ns = clock.clock;
  IrqchipState irqchip;
  for (uint32_t chip : {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC}) {
    kvm_irqchip k{};
    k.chip_id = chip;
    if (absl::Status s = Ioctl(vm_fd_.get(), KVM_GET_IRQCHIP, "KVM_GET_IRQCHIP", &k).status(); !s.ok()) return s;
    if (chip == KVM_IRQCHIP_PIC_MASTER) irqchip.pic_master = FromKvm(k.chip.pic);
    if (chip == KVM_IRQCHIP_PIC_SLAVE) irqchip.pic_slave = FromKvm(k.chip.pic);
    if (chip == KVM_IRQCHIP_IOAPIC) {
      const kvm_ioapic_state& io = k.chip.ioapic;
      irqchip.ioapic.base_address = io.base_address;
      irqchip.ioapic.ioregsel = io.ioregsel;
      irqchip.ioapic.id = io.id;
      irqchip.ioapic.irr = io.irr;
      for (size_t pin = 0; pin < irqchip.ioapic.redirection.size(); ++pin) {
        irqchip.ioapic.redirection[pin] = io.redirtbl[pin].bits;
      }
    }
  }
  state.irqchip = irqchip;
  state.msi_routes = gsi_routing_.MsiRoutes();
  absl::MutexLock lock(&mu_);
  state.msr_filter = msr_filter_;
  state.base_cpuid = base_cpuid_;
  return state;
}

absl::Status KvmVm::RestoreState(const VmState& state) {
  kvm_clock_data clock{};
  clock.clock = state.clock.ns;
  if (absl::Status s = Ioctl(vm_fd_.get(), KVM_SET_CLOCK, "KVM_SET_CLOCK", &clock).status(); !s.ok()) return s;
  if (!state.irqchip) return absl::InvalidArgumentError("the saved VM state has no irqchip (a sim VM's state?)");
  for (uint32_t chip : {KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC}) {
    kvm_irqchip k{};
    k.chip_id = chip;
    if (chip == KVM_IRQCHIP_PIC_MASTER) k.chip.pic = ToKvm(state.irqchip->pic_master);
    if (chip == KVM_IRQCHIP_PIC_SLAVE) k.chip.pic = ToKvm(state.irqchip->pic_slave);
    if (chip == KVM_IRQCHIP_IOAPIC) {
      kvm_ioapic_state& io = k.chip.ioapic;
      io.base_address = state.irqchip->ioapic.base_address;
      io.ioregsel = state.irqchip->ioapic.ioregsel;
      io.id = state.irqchip->ioapic.id;
      io.irr = state.irqchip->ioapic.irr;
      for (size_t pin = 0; pin < state.irqchip->ioapic.redirection.size(); ++pin) {
        io.redirtbl[pin].bits = state.irqchip->ioapic.redirection[pin];
      }
    }
    if (absl::Status s = Ioctl(vm_fd_.get(), KVM_SET_IRQCHIP, "KVM_SET_IRQCHIP", &k).status(); !s.ok()) return s;
  }
  if (absl::Status s = gsi_routing_.SetMsiRoutes(vm_fd_.get(), state.msi_routes); !s.ok()) return s;
  if (state.msr_filter) {
    if (absl::Status s = SetMsrFilter(*state.msr_filter); !s.ok()) return s;
  }
  absl::MutexLock lock(&mu_);
  if (!state.base_cpuid.empty()) base_cpuid_ = state.base_cpuid;
  return absl::OkStatus();
}

}  // namespace vmd::hv::kvm

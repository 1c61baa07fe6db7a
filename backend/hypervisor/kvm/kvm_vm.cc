#include "backend/hypervisor/kvm/kvm_vm.h"

#include <linux/kvm.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/guest/firmware_image.h"
#include "backend/hypervisor/kvm/kvm_msr_filter.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/kvm/kvm_vcpu.h"
#include "backend/hypervisor/kvm/long_mode_setup.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv::kvm {
namespace {

// VMX needs a 3-page TSS area and an identity-map page for real-mode and
// unrestricted-guest-less operation, outside guest RAM (same spot as QEMU).
constexpr uint64_t kIdentityMapGpa = 0xfeffc000;
constexpr uint64_t kTssGpa = 0xfeffd000;

constexpr uint32_t kMsiAddressBase = 0xfee00000;

absl::Status EnableCap(int vm_fd, uint32_t capability, uint64_t arg0, absl::string_view name) {
  kvm_enable_cap cap{};
  cap.cap = capability;
  cap.args[0] = arg0;
  return Ioctl(vm_fd, KVM_ENABLE_CAP, absl::StrCat("KVM_ENABLE_CAP(", name, ")"), &cap).status();
}

}  // namespace

absl::StatusOr<Fd> CreateConfiguredVm(int kvm_fd, uint64_t memory_bytes) {
  absl::StatusOr<int> vm = Ioctl(kvm_fd, KVM_CREATE_VM, "KVM_CREATE_VM", 0ul);
  if (!vm.ok()) return vm.status();
  Fd vm_fd(*vm);
  if (memory_bytes <= kIdentityMapGpa) {
    uint64_t identity_map = kIdentityMapGpa;
    absl::Status s = Ioctl(vm_fd.get(), KVM_SET_IDENTITY_MAP_ADDR, "KVM_SET_IDENTITY_MAP_ADDR",
                           &identity_map).status();
    if (!s.ok()) return s;
    s = Ioctl(vm_fd.get(), KVM_SET_TSS_ADDR, "KVM_SET_TSS_ADDR", static_cast<unsigned long>(kTssGpa))
            .status();
    if (!s.ok()) return s;
  }
  if (absl::Status s = Ioctl(vm_fd.get(), KVM_CREATE_IRQCHIP, "KVM_CREATE_IRQCHIP").status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = EnableCap(vm_fd.get(), KVM_CAP_X2APIC_API,
                                 KVM_X2APIC_API_USE_32BIT_IDS |
                                     KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
                                 "KVM_CAP_X2APIC_API");
      !s.ok()) {
    return s;
  }
  // Only MSRs an MSR filter denies exit to user space; others behave as KVM
  // emulates them (unknown ones #GP). The filter reason must be on before a
  // filter is installed.
  if (absl::Status s = EnableCap(vm_fd.get(), KVM_CAP_X86_USER_SPACE_MSR,
                                 KVM_MSR_EXIT_REASON_FILTER, "KVM_CAP_X86_USER_SPACE_MSR");
      !s.ok()) {
    return s;
  }
  return vm_fd;
}

absl::StatusOr<uint64_t> GuestTscKhz(int kvm_fd, int vm_fd) {
  if (vm_fd >= 0 && CheckExtension(kvm_fd, KVM_CAP_VM_TSC_CONTROL) > 0) {
    absl::StatusOr<int> khz = Ioctl(vm_fd, KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ (VM)");
    if (khz.ok() && *khz > 0) return static_cast<uint64_t>(*khz);
  }
  absl::StatusOr<int> scratch = Ioctl(kvm_fd, KVM_CREATE_VM, "KVM_CREATE_VM", 0ul);
  if (!scratch.ok()) return scratch.status();
  Fd scratch_vm(*scratch);
  absl::StatusOr<int> vcpu = Ioctl(scratch_vm.get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU", 0ul);
  if (!vcpu.ok()) return vcpu.status();
  Fd scratch_vcpu(*vcpu);
  absl::StatusOr<int> khz = Ioctl(scratch_vcpu.get(), KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  if (!khz.ok()) return khz.status();
  if (*khz <= 0) return absl::InternalError("KVM_GET_TSC_KHZ returned 0");
  return static_cast<uint64_t>(*khz);
}

absl::StatusOr<std::unique_ptr<KvmVm>> KvmVm::Create(Host host, const VmConfig& config) {
  absl::StatusOr<Fd> vm_fd = CreateConfiguredVm(host.kvm_fd.get(), config.memory_bytes);
  if (!vm_fd.ok()) return vm_fd.status();
  return std::unique_ptr<KvmVm>(new KvmVm(std::move(host), *std::move(vm_fd), config));
}

absl::Status KvmVm::SetGuestMemory(GuestMemory& memory) {
  absl::MutexLock lock(&mu_);
  if (memory_ != nullptr) {
    return absl::FailedPreconditionError("the VM's guest memory is already set");
  }
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.flags = 0;
  region.guest_phys_addr = 0;
  region.memory_size = memory.size();
  region.userspace_addr = reinterpret_cast<uint64_t>(memory.host_address());
  absl::Status s = Ioctl(vm_fd_.get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION",
                         &region).status();
  if (!s.ok()) return s;
  memory_ = &memory;
  return absl::OkStatus();
}

absl::Status KvmVm::LoadGuest(GuestMemory& memory) {
  absl::MutexLock lock(&mu_);
  if (memory_ != &memory) {
    return absl::FailedPreconditionError("LoadGuest needs the memory given to SetGuestMemory");
  }
  const uint64_t needed = MinimumGuestMemory(config_.vcpus);
  if (memory.size() < needed) {
    return absl::InvalidArgumentError(absl::StrCat("guest memory of ", memory.size(),
                                                   " bytes is too small for ", config_.vcpus,
                                                   " vCPU(s): the firmware needs ", needed));
  }
  std::span<const uint8_t> image = guest::FirmwareImage();
  std::span<uint8_t> window = memory.Slice(guest::kFirmwareLoadGpa, guest::kFirmwareMaxBytes);
  if (window.empty() || image.size() > window.size()) {
    return absl::InternalError("the firmware image does not fit its window");
  }
  std::fill(window.begin(), window.end(), 0);
  std::copy(image.begin(), image.end(), window.begin());
  if (absl::Status s = WriteLongModeTables(memory); !s.ok()) return s;

  // The TSC frequency comes from the VM when KVM can say (VM_TSC_CONTROL),
  // else from vCPU 0 when CreateVcpu makes it: a scratch VM just to ask would
  // cost every engine start several milliseconds.
  if (auto* boot = memory.At<vmd_boot_info>(VMD_BOOT_INFO_GPA);
      boot != nullptr && boot->magic == VMD_BOOT_INFO_MAGIC && boot->tsc_khz == 0 &&
      CheckExtension(host_.kvm_fd.get(), KVM_CAP_VM_TSC_CONTROL) > 0) {
    absl::StatusOr<uint64_t> khz = GuestTscKhz(host_.kvm_fd.get(), vm_fd_.get());
    if (!khz.ok()) return khz.status();
    boot->tsc_khz = *khz;
  }
  guest_loaded_ = true;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Vcpu>> KvmVm::CreateVcpu(uint32_t id) {
  absl::MutexLock lock(&mu_);
  if (!guest_loaded_) {
    return absl::FailedPreconditionError("CreateVcpu needs LoadGuest first (the entry state)");
  }
  if (id >= config_.vcpus) {
    return absl::InvalidArgumentError(
        absl::StrCat("vCPU id ", id, " is out of range: the VM has ", config_.vcpus, " vCPU(s)"));
  }
  if (vcpu_created_[id]) {
    return absl::AlreadyExistsError(absl::StrCat("vCPU ", id, " already exists"));
  }
  absl::StatusOr<int> fd = Ioctl(vm_fd_.get(), KVM_CREATE_VCPU,
                                 absl::StrCat("KVM_CREATE_VCPU(", id, ")"),
                                 static_cast<unsigned long>(id));
  if (!fd.ok()) return fd.status();
  Fd vcpu_fd(*fd);
  const int raw_fd = vcpu_fd.get();
  if (auto* boot = memory_->At<vmd_boot_info>(VMD_BOOT_INFO_GPA);
      boot != nullptr && boot->magic == VMD_BOOT_INFO_MAGIC && boot->tsc_khz == 0) {
    absl::StatusOr<int> khz = Ioctl(raw_fd, KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
    if (!khz.ok()) return khz.status();
    boot->tsc_khz = static_cast<uint64_t>(*khz);  // read by the firmware once it runs
  }

  // CPUID first: KVM validates EFER and CR4 in KVM_SET_SREGS against it.
  if (absl::Status s = SetVcpuCpuid(raw_fd, BuildVcpuCpuid(host_.supported_cpuid, id,
                                                           config_.vcpus));
      !s.ok()) {
    return s;
  }
  // With the in-kernel irqchip only vCPU 0 starts runnable; the others wait
  // for INIT/SIPI. Every vCPU enters the firmware directly instead.
  kvm_mp_state mp_state{};
  mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
  if (absl::Status s = Ioctl(raw_fd, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp_state).status();
      !s.ok()) {
    return s;
  }
  kvm_sregs sregs{};
  if (absl::Status s = Ioctl(raw_fd, KVM_GET_SREGS, "KVM_GET_SREGS", &sregs).status(); !s.ok()) {
    return s;
  }
  SetLongModeSregs(sregs);
  if (absl::Status s = Ioctl(raw_fd, KVM_SET_SREGS, "KVM_SET_SREGS", &sregs).status(); !s.ok()) {
    return s;
  }
  kvm_regs regs = LongModeEntryRegs(id, guest::kFirmwareEntryGpa);
  if (absl::Status s = Ioctl(raw_fd, KVM_SET_REGS, "KVM_SET_REGS", &regs).status(); !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<KvmVcpu>> vcpu =
      KvmVcpu::Create(id, std::move(vcpu_fd), host_.run_size);
  if (!vcpu.ok()) return vcpu.status();
  vcpu_created_[id] = true;
  return std::unique_ptr<Vcpu>(*std::move(vcpu));
}

absl::Status KvmVm::SetMsrFilter(const msr::MsrFilter& filter) {
  absl::MutexLock lock(&mu_);
  return kvm::SetMsrFilter(vm_fd_.get(), filter, &msr_exit_reasons_);
}

absl::Status KvmVm::SignalMsi(uint32_t dest_apic_id, uint8_t vector) {
  // x2APIC format (KVM_X2APIC_API_USE_32BIT_IDS): destination bits 7:0 in
  // address_lo[19:12], bits 31:8 in address_hi[31:8]. Data: the vector, fixed
  // delivery, edge-triggered.
  kvm_msi msi{};
  msi.address_lo = kMsiAddressBase | ((dest_apic_id & 0xffu) << 12);
  msi.address_hi = dest_apic_id & 0xffffff00u;
  msi.data = vector;
  // KVM returns how many APICs took it. 0 (no such APIC id, or the guest has
  // not software-enabled its APIC yet) is not an error: the interrupt is
  // dropped, as on the APIC bus and in the sim backend.
  return Ioctl(vm_fd_.get(), KVM_SIGNAL_MSI, "KVM_SIGNAL_MSI", &msi).status();
}

}  // namespace vmd::hv::kvm

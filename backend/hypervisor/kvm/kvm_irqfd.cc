#include "backend/hypervisor/kvm/kvm_irqfd.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"
#include "backend/hypervisor/kvm/kvm_vm.h"

namespace vmd::hv::kvm {
namespace {

constexpr uint32_t kMsiAddressBase = 0xfee00000;
constexpr uint32_t kIoapicPins = 24;  // KVM_IOAPIC_NUM_PINS
constexpr uint32_t kPicPins = 16;     // two 8259s
static_assert(sizeof(kvm_irq_routing_entry) == 48, "the kernel's routing entry layout");

kvm_irq_routing_entry IrqchipRoute(uint32_t gsi, uint32_t irqchip, uint32_t pin) {
  kvm_irq_routing_entry e{};
  e.gsi = gsi;
  e.type = KVM_IRQ_ROUTING_IRQCHIP;
  e.u.irqchip.irqchip = irqchip;
  e.u.irqchip.pin = pin;
  return e;
}

}  // namespace

MsiMessage FixedMsi(uint32_t dest_apic_id, uint8_t vector) {
  // Destination bits 7:0 in address_lo[19:12], bits 31:8 in address_hi[31:8]
  // (KVM_X2APIC_API_USE_32BIT_IDS); data: the vector, fixed delivery, edge.
  return {.address_lo = kMsiAddressBase | ((dest_apic_id & 0xffu) << 12),
          .address_hi = dest_apic_id & 0xffffff00u,
          .data = vector};
}

absl::StatusOr<uint32_t> GsiRouting::AddMsiRoute(int vm_fd, const MsiMessage& msi) {
  absl::MutexLock lock(&mu_);
  uint32_t gsi = kFirstMsiGsi;
  while (msi_routes_.contains(gsi)) ++gsi;
  // KVM_CAP_IRQ_ROUTING is the number of GSIs (KVM_MAX_IRQ_ROUTES).
  const int max_routes = CheckExtension(vm_fd, KVM_CAP_IRQ_ROUTING);
  if (gsi >= static_cast<uint32_t>(max_routes)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("no free GSI for an MSI route: KVM allows ", max_routes, " GSIs"));
  }
  msi_routes_[gsi] = msi;
  if (absl::Status s = CommitLocked(vm_fd); !s.ok()) {
    msi_routes_.erase(gsi);
    return s;
  }
  return gsi;
}

absl::Status GsiRouting::RemoveMsiRoute(int vm_fd, uint32_t gsi) {
  absl::MutexLock lock(&mu_);
  if (msi_routes_.erase(gsi) == 0) {
    return absl::NotFoundError(absl::StrCat("GSI ", gsi, " has no MSI route"));
  }
  return CommitLocked(vm_fd);
}

absl::Status GsiRouting::CommitLocked(int vm_fd) {
  std::vector<kvm_irq_routing_entry> entries;
  // kvm_setup_default_irq_routing(): what KVM_CREATE_IRQCHIP installed.
  for (uint32_t gsi = 0; gsi < kIoapicPins; ++gsi) {
    entries.push_back(IrqchipRoute(gsi, KVM_IRQCHIP_IOAPIC, gsi));
    if (gsi < kPicPins) {
      entries.push_back(
          IrqchipRoute(gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, gsi % 8));
    }
  }
  for (const auto& [gsi, msi] : msi_routes_) {
    kvm_irq_routing_entry e{};
    e.gsi = gsi;
    e.type = KVM_IRQ_ROUTING_MSI;
    e.u.msi.address_lo = msi.address_lo;
    e.u.msi.address_hi = msi.address_hi;
    e.u.msi.data = msi.data;
    entries.push_back(e);
  }
  // struct kvm_irq_routing as the kernel lays it out (kvm_uapi.h).
  std::vector<uint8_t> buffer(sizeof(IrqRoutingHeader) +
                              entries.size() * sizeof(kvm_irq_routing_entry));
  IrqRoutingHeader header{static_cast<uint32_t>(entries.size()), 0};
  std::memcpy(buffer.data(), &header, sizeof(header));
  std::memcpy(buffer.data() + sizeof(header), entries.data(),
              entries.size() * sizeof(kvm_irq_routing_entry));
  return Ioctl(vm_fd, kKvmSetGsiRouting, "KVM_SET_GSI_ROUTING", buffer.data()).status();
}

absl::StatusOr<std::unique_ptr<MsiIrqfd>> MsiIrqfd::Create(int vm_fd,
                                                           std::shared_ptr<GsiRouting> routing,
                                                           uint32_t dest_apic_id, uint8_t vector) {
  if (CheckExtension(vm_fd, KVM_CAP_IRQFD) <= 0) {
    return absl::FailedPreconditionError("KVM lacks KVM_CAP_IRQFD");
  }
  if (CheckExtension(vm_fd, KVM_CAP_IRQ_ROUTING) <= 0) {
    return absl::FailedPreconditionError("KVM lacks KVM_CAP_IRQ_ROUTING");
  }
  int dup_fd = fcntl(vm_fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return absl::ErrnoToStatus(errno, "dup of the VM fd");
  Fd vm(dup_fd);
  int efd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return absl::ErrnoToStatus(errno, "eventfd");
  Fd event(efd);

  absl::StatusOr<uint32_t> gsi = routing->AddMsiRoute(vm.get(), FixedMsi(dest_apic_id, vector));
  if (!gsi.ok()) return gsi.status();
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(event.get());
  irqfd.gsi = *gsi;
  if (absl::Status s = Ioctl(vm.get(), KVM_IRQFD, "KVM_IRQFD", &irqfd).status(); !s.ok()) {
    (void)routing->RemoveMsiRoute(vm.get(), *gsi);
    return s;
  }
  return std::unique_ptr<MsiIrqfd>(
      new MsiIrqfd(std::move(vm), std::move(routing), std::move(event), *gsi));
}

MsiIrqfd::~MsiIrqfd() {
  kvm_irqfd irqfd{};
  irqfd.fd = static_cast<uint32_t>(eventfd_.get());
  irqfd.gsi = gsi_;
  irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
  // Failures leave a stale route or binding on a VM that is going away or
  // in a state we cannot fix from a destructor: nothing to do about them.
  (void)Ioctl(vm_fd_.get(), KVM_IRQFD, "KVM_IRQFD(deassign)", &irqfd);
  (void)routing_->RemoveMsiRoute(vm_fd_.get(), gsi_);
}

absl::Status MsiIrqfd::Signal() const {
  const uint64_t one = 1;
  if (write(eventfd_.get(), &one, sizeof(one)) != static_cast<ssize_t>(sizeof(one))) {
    return absl::ErrnoToStatus(errno, "write to the irqfd eventfd");
  }
  return absl::OkStatus();
}

// Declared in kvm_vm.h: the VM's irqfd method lives with the irqfd code.
absl::StatusOr<std::unique_ptr<MsiIrqfd>> KvmVm::CreateMsiIrqfd(uint32_t dest_apic_id,
                                                                uint8_t vector) {
  return MsiIrqfd::Create(vm_fd_.get(), gsi_routing_, dest_apic_id, vector);
}

}  // namespace vmd::hv::kvm

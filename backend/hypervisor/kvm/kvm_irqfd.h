// MSIs injected through irqfd: a GSI routed to an MSI (KVM_SET_GSI_ROUTING)
// and an eventfd bound to that GSI (KVM_IRQFD). Writing the eventfd injects
// the MSI inside the kernel, without an ioctl per interrupt -- how vhost,
// VFIO and vDPA devices signal a guest.
//
// KVM_SET_GSI_ROUTING replaces the VM's whole routing table, so one
// GsiRouting per VM owns it: the routes KVM_CREATE_IRQCHIP installs by
// default (kvm_setup_default_irq_routing: GSIs 0-15 to the IOAPIC pin and
// the PIC, 16-23 to the IOAPIC) plus the MSI routes in use.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_IRQFD_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_IRQFD_H_

#include <cstdint>
#include <map>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {

// The fixed-mode, edge-triggered MSI to an x2APIC id (the format of
// KVM_X2APIC_API_USE_32BIT_IDS, which every VM of the backend enables).
struct MsiMessage {
  uint32_t address_lo = 0;
  uint32_t address_hi = 0;
  uint32_t data = 0;
};
MsiMessage FixedMsi(uint32_t dest_apic_id, uint8_t vector);

class GsiRouting {
 public:
  // MSI routes get GSIs from here up: above the IOAPIC's 24 pins.
  static constexpr uint32_t kFirstMsiGsi = 24;

  // Routes a free GSI to `msi` and returns it.
  absl::StatusOr<uint32_t> AddMsiRoute(int vm_fd, const MsiMessage& msi);
  // Drops an MSI route added before.
  absl::Status RemoveMsiRoute(int vm_fd, uint32_t gsi);

 private:
  // Installs the default routes plus msi_routes_.
  absl::Status CommitLocked(int vm_fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<uint32_t, MsiMessage> msi_routes_ ABSL_GUARDED_BY(mu_);
};

// An eventfd bound with KVM_IRQFD to a GSI of its own routed to one MSI.
// Holds a dup of the VM fd, so the VM lives at least as long.
class MsiIrqfd {
 public:
  // FAILED_PRECONDITION when KVM lacks KVM_CAP_IRQFD or KVM_CAP_IRQ_ROUTING.
  static absl::StatusOr<std::unique_ptr<MsiIrqfd>> Create(int vm_fd,
                                                          std::shared_ptr<GsiRouting> routing,
                                                          uint32_t dest_apic_id, uint8_t vector);
  // Unbinds the eventfd (KVM_IRQFD_FLAG_DEASSIGN) and drops the route.
  ~MsiIrqfd();
  MsiIrqfd(const MsiIrqfd&) = delete;
  MsiIrqfd& operator=(const MsiIrqfd&) = delete;

  // Writing 1 (8 bytes) to it injects the MSI.
  int eventfd() const { return eventfd_.get(); }
  uint32_t gsi() const { return gsi_; }
  // write(eventfd(), 1).
  absl::Status Signal() const;

 private:
  MsiIrqfd(Fd vm_fd, std::shared_ptr<GsiRouting> routing, Fd eventfd, uint32_t gsi)
      : vm_fd_(std::move(vm_fd)),
        routing_(std::move(routing)),
        eventfd_(std::move(eventfd)),
        gsi_(gsi) {}

  Fd vm_fd_;
  std::shared_ptr<GsiRouting> routing_;
  Fd eventfd_;
  uint32_t gsi_;
};

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_IRQFD_H_

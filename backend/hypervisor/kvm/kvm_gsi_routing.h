// The VM's GSI routing table (KVM_SET_GSI_ROUTING replaces it whole, so one
// object per VM owns it): the routes KVM_CREATE_IRQCHIP installs by default
// (kvm_setup_default_irq_routing: GSIs 0-15 to the IOAPIC pin and the PIC,
// 16-23 to the IOAPIC) plus the MSI routes in use, which devices bind
// irqfds to.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_GSI_ROUTING_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_GSI_ROUTING_H_

#include <cstdint>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backend/hypervisor/msi.h"

namespace vmd::hv::kvm {

class GsiRouting {
 public:
  // MSI routes get GSIs from here up: above the IOAPIC's 24 pins.
  static constexpr uint32_t kFirstMsiGsi = 24;

  // Routes a free GSI to `msi` and returns it.
  absl::StatusOr<uint32_t> AddMsiRoute(int vm_fd, const MsiMessage& msi);
  // Drops an MSI route added before.
  absl::Status RemoveMsiRoute(int vm_fd, uint32_t gsi);
  // The MSI routes, by GSI; and replacing them all (a restore).
  std::map<uint32_t, MsiMessage> MsiRoutes() const;
  absl::Status SetMsiRoutes(int vm_fd, std::map<uint32_t, MsiMessage> routes);

 private:
  // Installs the default routes plus msi_routes_.
  absl::Status CommitLocked(int vm_fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint32_t, MsiMessage> msi_routes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_GSI_ROUTING_H_

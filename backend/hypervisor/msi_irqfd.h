// An MSI raised by writing an eventfd: a GSI routed to the MSI
// (Vm::AddMsiRoute) with an eventfd bound to it (Vm::AssignIrqfd). Writing
// the eventfd injects the MSI inside the kernel, without an exit or an ioctl
// per interrupt -- how vhost, VFIO and vDPA devices signal a guest. Works on
// any backend through the Vm interface.
#ifndef VMD_BACKEND_HYPERVISOR_MSI_IRQFD_H_
#define VMD_BACKEND_HYPERVISOR_MSI_IRQFD_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "backend/hypervisor/hypervisor.h"

namespace vmd::hv {

class MsiIrqfd {
 public:
  // The VM must outlive the irqfd.
  static absl::StatusOr<std::unique_ptr<MsiIrqfd>> Create(Vm& vm, const MsiMessage& msi);
  // Unbinds the eventfd and drops the route.
  ~MsiIrqfd();
  MsiIrqfd(const MsiIrqfd&) = delete;
  MsiIrqfd& operator=(const MsiIrqfd&) = delete;

  // Writing 1 (8 bytes) to it injects the MSI.
  int eventfd() const { return eventfd_; }
  uint32_t gsi() const { return gsi_; }
  // write(eventfd(), 1).
  absl::Status Signal() const;

 private:
  MsiIrqfd(Vm& vm, int eventfd, uint32_t gsi) : vm_(vm), eventfd_(eventfd), gsi_(gsi) {}
  Vm& vm_;
  const int eventfd_;
  const uint32_t gsi_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_MSI_IRQFD_H_

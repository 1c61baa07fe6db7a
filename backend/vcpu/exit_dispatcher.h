// What the engine does with each exit a vCPU's Run() returns: port I/O and
// MMIO go to the device bus (an address no device holds reads as all ones
// and drops writes, as on a PC), MSR accesses to the MSR exit router, and
// shutdowns and internal errors end the VM as crashed. Backend-neutral: the
// same for kvm and sim.
#ifndef VMD_BACKEND_VCPU_EXIT_DISPATCHER_H_
#define VMD_BACKEND_VCPU_EXIT_DISPATCHER_H_

#include <optional>
#include <string>

#include "backend/devices/device_bus.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/vcpu/msr_exit_router.h"

namespace vmd::engine {

class ExitDispatcher {
 public:
  ExitDispatcher(DeviceBus& bus, MsrExitRouter& msrs) : bus_(bus), msrs_(msrs) {}

  // Handles `exit` of `vcpu` and completes it. Returns why the VM must end
  // as crashed, or nullopt to run on.
  std::optional<std::string> Dispatch(hv::Vcpu& vcpu, hv::VcpuExit& exit);

 private:
  DeviceBus& bus_;
  MsrExitRouter& msrs_;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_VCPU_EXIT_DISPATCHER_H_

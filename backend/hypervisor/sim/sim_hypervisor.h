// The sim backend: a deterministic software model of a KVM host with a chosen
// CPU profile. It does not execute x86 code; its vCPUs run a model of the
// guest firmware (sim_guest.h) that produces the same exits a real guest does.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_HYPERVISOR_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_HYPERVISOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "backend/hypervisor/hypervisor.h"

namespace vmd::hv {

BackendAvailability ProbeSim();
// `profile` empty selects the default profile; an unknown one is NOT_FOUND.
absl::StatusOr<std::unique_ptr<Hypervisor>> OpenSim(const std::string& profile);
// A sim of `profile`, which must outlive every VM of it.
std::unique_ptr<Hypervisor> OpenSim(const cpu::HostProfile& profile);
// What the sim's model of a KVM host of `profile` answers: its base CPUID,
// and the MSRs of sim_msr_table.h that such a KVM lists.
cpu::KvmHostReport SimHostReport(const cpu::HostProfile& profile);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_HYPERVISOR_H_

// vmd's side of MSR policies: presets resolved for the VM's CPU vendor, and
// policies checked by compiling them exactly as the engine will (so a policy
// vmd accepts is one the engine can install).
#ifndef VMD_DAEMON_CORE_MSR_POLICY_H_
#define VMD_DAEMON_CORE_MSR_POLICY_H_

#include <string>

#include "absl/status/statusor.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_presets.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

// The vCPU topology MSR handlers derive values from (one thread per core).
msr::MsrTopology TopologyOf(const v1::VmSpec& spec);

// The CPU vendor a VM's guest sees: its sim profile's, or this host's.
cpu::CpuVendor VendorOf(const v1::VmSpec& spec, const v1::HostInfo& host);

// The request's policy, or its preset expanded for the VM; INVALID_ARGUMENT
// for an unknown preset or a missing source.
absl::StatusOr<v1::MsrPolicy> ResolveMsrPolicy(const v1::SetMsrPolicyRequest& request, const v1::VmSpec& spec,
                                               const v1::HostInfo& host);

// Compiles `policy` for the VM; errors are INVALID_ARGUMENT with `field`
// ("policy", "spec.msr_policy") before the compiler's own field names.
absl::StatusOr<msr::CompiledMsrPolicy> CompileForVm(const v1::MsrPolicy& policy, const v1::VmSpec& spec,
                                                    const std::string& field);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_MSR_POLICY_H_

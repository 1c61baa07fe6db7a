// The field-by-field checks of an MsrPolicy: what is wrong regardless of how
// the policy maps onto KVM. CompileMsrPolicy runs them first, then the checks
// that need the resolved rules (handler reachability, fitting KVM's 16
// ranges).
#ifndef VMD_BACKEND_MSR_MSR_POLICY_VALIDATOR_H_
#define VMD_BACKEND_MSR_MSR_POLICY_VALIDATOR_H_

#include <cstddef>

#include "absl/status/status.h"
#include "backend/msr/msr_handlers.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// Bounds on a policy's size, so that compiling one stays cheap.
inline constexpr size_t kMaxMsrRules = 4096;
inline constexpr size_t kMaxMsrHandlers = 1024;

// INVALID_ARGUMENT naming the field and the rule, for the first problem of:
//  - default_action: must be UNSPECIFIED (= ALLOW), ALLOW or DENY;
//  - unknown_msrs: a defined value;
//  - rules: at most kMaxMsrRules; each with count ≥ 1, first + count within
//    the 32-bit MSR space, access and action set to defined values; a DENY
//    or EMULATE rule must not touch the x2APIC MSRs 0x800-0x8ff, which KVM
//    cannot filter (an ALLOW rule may: it says what KVM does anyway);
//  - handlers: at most kMaxMsrHandlers; read and write set to defined values;
//    no two for one MSR; none for an x2APIC MSR (KVM never exits for those
//    with the FILTER or UNKNOWN reason); READ_SOURCE_TOPOLOGY only with a
//    topology of 1-65535 cores and threads.
absl::Status ValidateMsrPolicy(const v1::MsrPolicy& policy, const MsrTopology& topology);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_POLICY_VALIDATOR_H_

// Compiles a vmd.v1.MsrPolicy into what the engine installs and consults:
// the KVM filter (an MsrFilter: ALLOW → bit 1; DENY and EMULATE → bit 0, so
// the access exits to user space with KVM_MSR_EXIT_REASON_FILTER and the
// engine counts denials and injects #GP itself), the exit reasons to enable,
// the per-exit decision table, the handlers, and warnings.
//
// Steps: ValidateMsrPolicy (field checks) → ResolveMsrRules (first-match
// order into disjoint segments per direction) → handler reachability →
// PackMsrFilter (the ≤ 16 KVM ranges; its algorithm is documented in
// msr_filter_packer.h) → MsrDecisionTable::Build.
#ifndef VMD_BACKEND_MSR_MSR_POLICY_COMPILER_H_
#define VMD_BACKEND_MSR_MSR_POLICY_COMPILER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/msr/msr_claim.h"
#include "backend/msr/msr_decision_table.h"
#include "backend/msr/msr_filter.h"
#include "backend/msr/msr_handlers.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

struct CompiledMsrPolicy {
  // For KVM_X86_SET_MSR_FILTER, and the sim's KvmAllows(). exit_reasons:
  // FILTER whenever anything is filtered (a range or DEFAULT_DENY), UNKNOWN
  // when unknown_msrs = EMULATE; enable them (KVM_CAP_X86_USER_SPACE_MSR)
  // before installing the filter.
  MsrFilter filter;
  // Non-fatal findings, e.g. rules shadowed entirely by earlier rules.
  std::vector<std::string> warnings;
  // The policy's handlers sorted by MSR index; MsrDecision::handler is a
  // position here. Feed to MsrHandlers::Create.
  std::vector<v1::MsrHandler> handlers;
  MsrDecisionTable decisions;
  // The engine's claims compiled in; MsrDecision::handler of a kClaimed
  // decision is a position here.
  std::vector<MsrClaim> claims;
  bool log_denials = false;

  // The engine's per-exit lookup for a trapped access.
  MsrDecision Decide(uint32_t index, bool write) const { return decisions.Decide(index, write); }
  // How the policy maps onto KVM, for SetMsrPolicyResponse.filter.
  v1::MsrFilterSummary Summary() const;
};

// INVALID_ARGUMENT naming the field and rule for an invalid policy (see
// ValidateMsrPolicy), and:
//  - `handlers[i]: MSR 0x35 is not trapped by any EMULATE rule`: a handler
//    must be reachable. It is when the MSR's first-match action is EMULATE
//    for reads or writes; or, when unknown_msrs = EMULATE, for any MSR the
//    policy does not DENY in both directions (KVM exits for an allowed MSR
//    it does not know, with reason UNKNOWN). A handler for an MSR denied in
//    both directions is refused too: no access ever reaches it.
//  - a policy KVM's filter cannot represent (msr_filter_packer.h), naming
//    the rules that did not fit.
// `topology` feeds READ_SOURCE_TOPOLOGY handlers. `claims` (the engine's,
// msr_claim.h) decide before every rule; what they override of the policy
// is a warning.
absl::StatusOr<CompiledMsrPolicy> CompileMsrPolicy(const v1::MsrPolicy& policy, const MsrTopology& topology,
                                                   std::span<const MsrClaim> claims = {});

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_POLICY_COMPILER_H_

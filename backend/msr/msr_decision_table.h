// What the engine does with a trapped MSR access (a KVM_EXIT_X86_RDMSR or
// _WRMSR exit): the per-exit path. Built once per policy from the resolved
// rules; each lookup is a branch-free binary search over the start MSRs of
// at most a few thousand intervals: O(log rules), never a scan of the rules.
#ifndef VMD_BACKEND_MSR_MSR_DECISION_TABLE_H_
#define VMD_BACKEND_MSR_MSR_DECISION_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/msr/msr_rule_resolver.h"

namespace vmd::msr {

enum class MsrDecisionKind : uint8_t {
  // A DENY rule (or default_action DENY) decides: inject #GP, count it as
  // MSR_OUTCOME_DENIED, maybe emit a (rate-limited) denial event.
  kDeny,
  // A handler answers: CompiledMsrPolicy::handlers[handler].
  kEmulate,
  // Trapped, but nothing answers: inject #GP, count MSR_OUTCOME_UNHANDLED.
  // An EMULATE rule's MSR without a handler, or an MSR the filter allows
  // that KVM does not know (KVM_MSR_EXIT_REASON_UNKNOWN) without a handler.
  kUnhandled,
  // An engine claim (msr_claim.h) answers: CompiledMsrPolicy::claims[handler].
  kClaimed,
};

struct MsrDecision {
  MsrDecisionKind kind = MsrDecisionKind::kUnhandled;
  uint32_t handler = 0;  // kEmulate: the handler's slot; kClaimed: the claim

  static MsrDecision Deny() { return {MsrDecisionKind::kDeny, 0}; }
  static MsrDecision Emulate(uint32_t slot) { return {MsrDecisionKind::kEmulate, slot}; }
  static MsrDecision Unhandled() { return {MsrDecisionKind::kUnhandled, 0}; }
  static MsrDecision Claimed(uint32_t claim) { return {MsrDecisionKind::kClaimed, claim}; }
  friend bool operator==(const MsrDecision&, const MsrDecision&) = default;
};

class MsrDecisionTable {
 public:
  // Everything kUnhandled.
  MsrDecisionTable();

  // `read`/`write` from ResolveMsrRules; `handler_indexes` sorted and
  // unique, a handler's slot being its position. A claimed MSR gets its
  // claim; an MSR the rules EMULATE gets its handler; one they ALLOW gets
  // its handler only when `unknown_emulate` (KVM exits for an allowed MSR
  // only when it does not know it, with the UNKNOWN reason).
  static MsrDecisionTable Build(const std::vector<MsrSegment>& read, const std::vector<MsrSegment>& write,
                                const std::vector<uint32_t>& handler_indexes, bool unknown_emulate);

  MsrDecision Decide(uint32_t index, bool write) const {
    const Direction& d = directions_[write ? 1 : 0];
    // The last start <= index. starts[0] == 0, so there is one; the loop
    // compiles to conditional moves.
    const uint32_t* base = d.starts.data();
    size_t n = d.starts.size();
    while (n > 1) {
      const size_t half = n / 2;
      base = base[half] <= index ? base + half : base;
      n -= half;
    }
    return d.decisions[static_cast<size_t>(base - d.starts.data())];
  }

  // Intervals per direction, for tests and the benchmark.
  size_t size(bool write) const { return directions_[write ? 1 : 0].starts.size(); }

 private:
  struct Direction {
    std::vector<uint32_t> starts;
    std::vector<MsrDecision> decisions;
  };
  Direction directions_[2];
};

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_DECISION_TABLE_H_

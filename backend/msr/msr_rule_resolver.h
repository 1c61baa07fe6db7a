// Resolves a policy's ordered, overlapping rules into first-match order: per
// access direction, a partition of the whole MSR space [0, 2^32) into
// disjoint segments, each decided by one rule, the default, or the x2APIC
// exemption. Both compiled forms are built from it: the KVM filter
// (msr_filter_packer.h) and the per-exit decision table
// (msr_decision_table.h).
#ifndef VMD_BACKEND_MSR_MSR_RULE_RESOLVER_H_
#define VMD_BACKEND_MSR_MSR_RULE_RESOLVER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "backend/msr/msr_claim.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

inline constexpr uint64_t kMsrSpaceEnd = uint64_t{1} << 32;
// MsrSegment::rule when no rule decides: default_action.
inline constexpr int kDefaultOwner = -1;
// MsrSegment::rule for x2APIC MSRs no rule decides: always ALLOW.
inline constexpr int kX2apicOwner = -2;

struct MsrSegment {
  uint64_t begin = 0;                           // first MSR
  uint64_t end = 0;                             // one past the last MSR, at most kMsrSpaceEnd
  v1::MsrAction action = v1::MSR_ACTION_ALLOW;  // ALLOW, DENY or EMULATE
  int rule = kDefaultOwner;                     // the deciding rule's index, k*Owner or ClaimOwner(c)
};

// Segments sorted by `begin`, covering [0, 2^32) without gaps; adjacent
// segments have different owners. `policy` must have passed
// ValidateMsrPolicy, `claims` ValidateMsrClaims. Claims decide before every
// rule (action EMULATE). O(R log R) for R rules and claims (a sweep over
// their ends with an ordered set of those covering the current MSR; the
// first decides).
std::vector<MsrSegment> ResolveMsrRules(const v1::MsrPolicy& policy, bool write,
                                        std::span<const MsrClaim> claims = {});

// The index of the segment holding `index` (binary search).
size_t FindMsrSegment(const std::vector<MsrSegment>& segments, uint64_t index);

// One warning per rule that decides no access at all in any direction it
// covers, naming the earlier rules (or claims) that decide its MSRs instead,
// e.g. "rules[3] (0x10-0x1f READ_WRITE DENY) is shadowed entirely by
// rules[0], rules[2]; it never applies".
std::vector<std::string> ShadowedRuleWarnings(const v1::MsrPolicy& policy, const std::vector<MsrSegment>& read,
                                              const std::vector<MsrSegment>& write,
                                              std::span<const MsrClaim> claims = {});

// "rules[2]", "default_action", or "the engine's claim (bench)".
std::string OwnerText(int owner, std::span<const MsrClaim> claims);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_RULE_RESOLVER_H_

// Maps a resolved policy (msr_rule_resolver.h) onto KVM's MSR filter: at
// most 16 ranges of at most 12,288 MSRs each, the first matching range
// deciding.
//
// The algorithm:
//  1. Per direction, the MSRs whose wanted bit (ALLOW = 1; DENY and EMULATE
//     = 0, so they exit to user space) differs from the filter's default
//     bit are "exceptions": they must lie in a range with that direction.
//     All other MSRs may lie in a range (their bit is set to what they want)
//     or not (the default decides). x2APIC MSRs are never exceptions: KVM
//     allows them whatever the filter says.
//  2. Exceptions are covered by windows: greedily, a window starts at the
//     first uncovered exception and takes every exception that starts within
//     12,288 MSRs of it (a longer exception is cut). Covering points with the
//     fewest fixed-length windows this way is optimal for one direction. Each
//     window becomes one range; its bitmap spans the gaps between the
//     exceptions it holds, gaps getting the bit their MSRs want.
//  3. Two ways to combine the directions, the one with fewer ranges wins:
//     a. per direction: windows over the read exceptions (READ ranges) and
//        over the write exceptions (WRITE ranges); a READ and a WRITE window
//        over the same MSRs whose MSRs want the same bit for both directions
//        become one READ|WRITE range;
//     b. layered: windows over the MSRs that are exceptions for reads only
//        (READ ranges) and for writes only (WRITE ranges) come first, then
//        READ|WRITE windows over the MSRs that are exceptions for both. In a
//        READ|WRITE range, an MSR whose directions want different bits is
//        always also in an earlier single-direction range, which decides
//        that direction; the READ|WRITE bit serves the other one.
//     (a) wins for policies whose directions differ in different places,
//     (b) for mostly READ_WRITE policies with a few one-direction rules.
//  4. Both filter defaults are tried (DEFAULT_ALLOW and DEFAULT_DENY),
//     whatever the policy's default_action: a policy that denies almost
//     everything through rules is represented with DEFAULT_DENY. Fewest
//     ranges wins, then fewest bitmap bytes, then the policy's own default.
//  5. Refused only when no combination fits 16 ranges, naming the rules
//     whose MSRs fall in the ranges beyond the 16th; or when MSR 0xffffffff
//     needs a range: KVM computes a range's end in 32 bits, so a range
//     reaching 0xffffffff wraps to end 0 and matches nothing.
//  6. The result is checked against the segments at every MSR where either
//     could change (segment and range boundaries): KvmAllows() equals
//     "action is ALLOW" for every MSR and direction, or compilation fails.
#ifndef VMD_BACKEND_MSR_MSR_FILTER_PACKER_H_
#define VMD_BACKEND_MSR_MSR_FILTER_PACKER_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/msr/msr_filter.h"
#include "backend/msr/msr_rule_resolver.h"

namespace vmd::msr {

// `read` and `write` from ResolveMsrRules. The filter's exit_reasons are left
// 0 for the caller. INVALID_ARGUMENT (naming rules) when the policy cannot be
// represented.
absl::StatusOr<MsrFilter> PackMsrFilter(const std::vector<MsrSegment>& read, const std::vector<MsrSegment>& write,
                                        bool policy_default_deny);

// INTERNAL unless KvmAllows(filter, m, w) == (action of m in the segments is
// ALLOW) for every MSR m and both directions. Exhaustive: it evaluates at
// every boundary of the segments and ranges, between which both sides are
// constant.
absl::Status VerifyMsrFilter(const MsrFilter& filter, const std::vector<MsrSegment>& read,
                             const std::vector<MsrSegment>& write);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_FILTER_PACKER_H_

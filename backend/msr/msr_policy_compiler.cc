#include "backend/msr/msr_policy_compiler.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_filter_packer.h"
#include "backend/msr/msr_policy_model.h"
#include "backend/msr/msr_policy_validator.h"
#include "backend/msr/msr_rule_resolver.h"
#include "backend/msr/msr_text.h"
#include "backend/rpc/error_details.h"

namespace vmd::msr {
namespace {

v1::MsrAction ActionAt(const std::vector<MsrSegment>& segments, uint32_t index) {
  return segments[FindMsrSegment(segments, index)].action;
}

// A handler's MSR claimed in both directions: the claim answers instead.
void WarnClaimedHandlers(const v1::MsrPolicy& policy, const std::vector<MsrSegment>& read,
                         const std::vector<MsrSegment>& write, std::span<const MsrClaim> claims,
                         std::vector<std::string>& warnings) {
  for (int i = 0; i < policy.handlers_size(); ++i) {
    const uint32_t index = policy.handlers(i).index();
    const int r = read[FindMsrSegment(read, index)].rule;
    const int w = write[FindMsrSegment(write, index)].rule;
    if (IsClaimOwner(r) && IsClaimOwner(w)) {
      warnings.push_back(absl::StrCat("handlers[", i, "] for MSR ", MsrHex(index), " never answers: ",
                                      OwnerText(r, claims), " takes that MSR"));
    }
  }
}

absl::Status CheckHandlersReachable(const v1::MsrPolicy& policy, const std::vector<MsrSegment>& read,
                                    const std::vector<MsrSegment>& write) {
  const bool unknown_emulate = policy.unknown_msrs() == v1::UNKNOWN_MSR_ACTION_EMULATE;
  for (int i = 0; i < policy.handlers_size(); ++i) {
    const uint32_t index = policy.handlers(i).index();
    const v1::MsrAction r = ActionAt(read, index);
    const v1::MsrAction w = ActionAt(write, index);
    if (r == v1::MSR_ACTION_EMULATE || w == v1::MSR_ACTION_EMULATE) continue;
    if (!unknown_emulate) {
      return rpc::InvalidField(absl::StrCat("handlers[", i, "]"),
                               absl::StrCat("MSR ", MsrHex(index),
                                            " is not trapped by any EMULATE rule (and unknown_msrs is not EMULATE)"));
    }
    if (r == v1::MSR_ACTION_DENY && w == v1::MSR_ACTION_DENY) {
      std::vector<int> deciding = {read[FindMsrSegment(read, index)].rule, write[FindMsrSegment(write, index)].rule};
      std::sort(deciding.begin(), deciding.end());
      deciding.erase(std::unique(deciding.begin(), deciding.end()), deciding.end());
      return rpc::InvalidField(absl::StrCat("handlers[", i, "]"),
                               absl::StrCat("MSR ", MsrHex(index), " is denied for reads and writes (",
                                            RuleListText(deciding), "), so no access reaches the handler"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

v1::MsrFilterSummary CompiledMsrPolicy::Summary() const {
  v1::MsrFilterSummary summary;
  uint32_t bytes = 0;
  for (const MsrFilterRange& r : filter.ranges) bytes += static_cast<uint32_t>(r.bitmap.size());
  summary.set_ranges(static_cast<uint32_t>(filter.ranges.size()));
  summary.set_bitmap_bytes(bytes);
  summary.set_default_deny(filter.default_deny);
  summary.set_exit_reasons(filter.exit_reasons);
  return summary;
}

absl::StatusOr<CompiledMsrPolicy> CompileMsrPolicy(const v1::MsrPolicy& policy, const MsrTopology& topology,
                                                   std::span<const MsrClaim> claims) {
  if (absl::Status s = ValidateMsrPolicy(policy, topology); !s.ok()) return s;
  if (absl::Status s = ValidateMsrClaims(claims); !s.ok()) return s;
  const std::vector<MsrSegment> read = ResolveMsrRules(policy, /*write=*/false, claims);
  const std::vector<MsrSegment> write = ResolveMsrRules(policy, /*write=*/true, claims);
  // Handler reachability is the policy's own property: checked without the
  // claims, so a policy stays valid whatever the engine claims.
  if (absl::Status s = claims.empty() ? CheckHandlersReachable(policy, read, write)
                                      : CheckHandlersReachable(policy, ResolveMsrRules(policy, false),
                                                               ResolveMsrRules(policy, true));
      !s.ok()) {
    return s;
  }

  CompiledMsrPolicy compiled;
  absl::StatusOr<MsrFilter> filter = PackMsrFilter(read, write, EffectiveDefaultAction(policy) == v1::MSR_ACTION_DENY);
  if (!filter.ok()) return filter.status();
  compiled.filter = *std::move(filter);
  const bool unknown_emulate = policy.unknown_msrs() == v1::UNKNOWN_MSR_ACTION_EMULATE;
  if (!compiled.filter.ranges.empty() || compiled.filter.default_deny) {
    compiled.filter.exit_reasons |= kMsrExitReasonFilter;
  }
  if (unknown_emulate) compiled.filter.exit_reasons |= kMsrExitReasonUnknown;

  compiled.warnings = ShadowedRuleWarnings(policy, read, write, claims);
  WarnClaimedHandlers(policy, read, write, claims, compiled.warnings);
  compiled.claims.assign(claims.begin(), claims.end());
  compiled.handlers.assign(policy.handlers().begin(), policy.handlers().end());
  std::sort(compiled.handlers.begin(), compiled.handlers.end(),
            [](const v1::MsrHandler& a, const v1::MsrHandler& b) { return a.index() < b.index(); });
  std::vector<uint32_t> handler_indexes;
  handler_indexes.reserve(compiled.handlers.size());
  for (const v1::MsrHandler& h : compiled.handlers) handler_indexes.push_back(h.index());
  compiled.decisions = MsrDecisionTable::Build(read, write, handler_indexes, unknown_emulate);
  compiled.log_denials = policy.log_denials();
  return compiled;
}

}  // namespace vmd::msr

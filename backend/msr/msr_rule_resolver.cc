#include "backend/msr/msr_rule_resolver.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"
#include "backend/msr/msr_policy_model.h"
#include "backend/msr/msr_text.h"

namespace vmd::msr {

std::vector<MsrSegment> ResolveMsrRules(const v1::MsrPolicy& policy, bool write, std::span<const MsrClaim> claims) {
  const v1::MsrAction default_action = EffectiveDefaultAction(policy);
  // Priorities: claims 0..C-1, then rules C..C+R-1; the lowest decides.
  const int c = static_cast<int>(claims.size());
  struct Event {
    uint64_t at;
    int priority;
    bool start;
  };
  std::vector<Event> events;
  std::vector<uint64_t> points = {0, kX2apicFirst, uint64_t{kX2apicLast} + 1};
  auto add = [&](int priority, v1::MsrAccess access, uint32_t first, uint32_t count) {
    if (!AccessCovers(access, write)) return;
    const uint64_t end = uint64_t{first} + count;
    events.push_back({first, priority, true});
    events.push_back({end, priority, false});
    points.push_back(first);
    if (end < kMsrSpaceEnd) points.push_back(end);
  };
  for (int i = 0; i < c; ++i) add(i, claims[i].access, claims[i].first, claims[i].count);
  for (int i = 0; i < policy.rules_size(); ++i) {
    add(c + i, policy.rules(i).access(), policy.rules(i).first(), policy.rules(i).count());
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.at < b.at; });
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());

  std::vector<MsrSegment> segments;
  std::set<int> active;  // priorities covering the current MSR; the first decides
  size_t e = 0;
  for (size_t k = 0; k < points.size(); ++k) {
    const uint64_t begin = points[k];
    const uint64_t end = k + 1 < points.size() ? points[k + 1] : kMsrSpaceEnd;
    for (; e < events.size() && events[e].at == begin; ++e) {
      if (events[e].start) {
        active.insert(events[e].priority);
      } else {
        active.erase(events[e].priority);
      }
    }
    MsrSegment segment{begin, end, default_action, kDefaultOwner};
    if (!active.empty() && *active.begin() < c) {
      segment.rule = ClaimOwner(static_cast<size_t>(*active.begin()));
      segment.action = v1::MSR_ACTION_EMULATE;
    } else if (!active.empty()) {
      segment.rule = *active.begin() - c;
      segment.action = policy.rules(segment.rule).action();
    } else if (begin >= kX2apicFirst && end <= uint64_t{kX2apicLast} + 1) {
      segment.rule = kX2apicOwner;
      segment.action = v1::MSR_ACTION_ALLOW;
    }
    if (!segments.empty() && segments.back().rule == segment.rule) {
      segments.back().end = end;
    } else {
      segments.push_back(segment);
    }
  }
  return segments;
}

size_t FindMsrSegment(const std::vector<MsrSegment>& segments, uint64_t index) {
  auto it = std::upper_bound(segments.begin(), segments.end(), index,
                             [](uint64_t i, const MsrSegment& s) { return i < s.begin; });
  return static_cast<size_t>(it - segments.begin()) - 1;
}

std::string OwnerText(int owner, std::span<const MsrClaim> claims) {
  if (IsClaimOwner(owner)) return absl::StrCat("the engine's claim (", claims[ClaimOf(owner)].owner, ")");
  return RuleListText({owner});
}

std::vector<std::string> ShadowedRuleWarnings(const v1::MsrPolicy& policy, const std::vector<MsrSegment>& read,
                                              const std::vector<MsrSegment>& write, std::span<const MsrClaim> claims) {
  std::vector<std::string> warnings;
  // seen[r] == i: rule r is already in rule i's `shadowing` list (claims at
  // the end: claim c at rules_size() + c).
  std::vector<int> seen(policy.rules_size() + claims.size(), -1);
  auto slot = [&](int owner) {
    return IsClaimOwner(owner) ? static_cast<size_t>(policy.rules_size()) + ClaimOf(owner)
                               : static_cast<size_t>(owner);
  };
  for (int i = 0; i < policy.rules_size(); ++i) {
    const v1::MsrRule& rule = policy.rules(i);
    const uint64_t end = uint64_t{rule.first()} + rule.count();
    bool decides = false;
    std::vector<int> shadowing;
    for (bool dir_write : {false, true}) {
      if (decides || !AccessCovers(rule.access(), dir_write)) continue;
      const std::vector<MsrSegment>& segments = dir_write ? write : read;
      for (size_t k = FindMsrSegment(segments, rule.first()); k < segments.size() && segments[k].begin < end; ++k) {
        if (segments[k].rule == i) {
          decides = true;
          break;
        }
        // Rule i covers this segment without deciding it: an earlier rule,
        // or a claim, does.
        if (seen[slot(segments[k].rule)] != i) {
          seen[slot(segments[k].rule)] = i;
          shadowing.push_back(segments[k].rule);
        }
      }
    }
    if (decides) continue;
    // Claims first (most negative), then rules in order.
    std::sort(shadowing.begin(), shadowing.end(), [](int a, int b) {
      return IsClaimOwner(a) != IsClaimOwner(b) ? IsClaimOwner(a) : (IsClaimOwner(a) ? a > b : a < b);
    });
    std::vector<int> rules;
    std::string by;
    for (int owner : shadowing) {
      if (IsClaimOwner(owner)) {
        absl::StrAppend(&by, by.empty() ? "" : ", ", OwnerText(owner, claims));
      } else {
        rules.push_back(owner);
      }
    }
    if (!rules.empty()) absl::StrAppend(&by, by.empty() ? "" : ", ", RuleListText(rules));
    warnings.push_back(absl::StrCat("rules[", i, "] (", RuleText(rule), ") is shadowed entirely by ", by,
                                    "; it never applies"));
  }
  return warnings;
}

}  // namespace vmd::msr

#include "backend/msr/msr_decision_table.h"

#include <algorithm>

namespace vmd::msr {
namespace {

void Add(std::vector<uint32_t>& starts, std::vector<MsrDecision>& decisions, uint64_t begin, MsrDecision decision) {
  if (!decisions.empty() && decisions.back() == decision) return;
  starts.push_back(static_cast<uint32_t>(begin));
  decisions.push_back(decision);
}

}  // namespace

MsrDecisionTable::MsrDecisionTable() {
  for (Direction& d : directions_) {
    d.starts = {0};
    d.decisions = {MsrDecision::Unhandled()};
  }
}

MsrDecisionTable MsrDecisionTable::Build(const std::vector<MsrSegment>& read, const std::vector<MsrSegment>& write,
                                         const std::vector<uint32_t>& handler_indexes, bool unknown_emulate) {
  MsrDecisionTable table;
  for (int dir = 0; dir < 2; ++dir) {
    const std::vector<MsrSegment>& segments = dir == 1 ? write : read;
    Direction& d = table.directions_[dir];
    d.starts.clear();
    d.decisions.clear();
    for (const MsrSegment& s : segments) {
      if (IsClaimOwner(s.rule)) {
        Add(d.starts, d.decisions, s.begin, MsrDecision::Claimed(static_cast<uint32_t>(ClaimOf(s.rule))));
        continue;
      }
      if (s.action == v1::MSR_ACTION_DENY) {
        Add(d.starts, d.decisions, s.begin, MsrDecision::Deny());
        continue;
      }
      const bool handled = s.action == v1::MSR_ACTION_EMULATE || unknown_emulate;
      uint64_t pos = s.begin;
      if (handled) {
        // Handlers inside the segment get one-MSR intervals of their own.
        auto it = std::lower_bound(handler_indexes.begin(), handler_indexes.end(), s.begin);
        for (; it != handler_indexes.end() && *it < s.end; ++it) {
          if (*it > pos) Add(d.starts, d.decisions, pos, MsrDecision::Unhandled());
          Add(d.starts, d.decisions, *it, MsrDecision::Emulate(static_cast<uint32_t>(it - handler_indexes.begin())));
          pos = uint64_t{*it} + 1;
        }
      }
      if (pos < s.end) Add(d.starts, d.decisions, pos, MsrDecision::Unhandled());
    }
  }
  return table;
}

}  // namespace vmd::msr

#include "backend/msr/msr_stats.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace vmd::msr {

MsrAccessStats::MsrAccessStats(const MsrStatsOptions& options)
    : max_counters_(options.max_counters),
      denial_events_(options.denial_events_per_second, options.denial_event_burst) {}

void MsrAccessStats::Record(uint32_t index, bool write, v1::MsrOutcome outcome) {
  const uint64_t key = Key(index, write, outcome);
  absl::MutexLock lock(&mu_);
  auto it = counters_.find(key);
  if (it != counters_.end()) {
    ++it->second;
    return;
  }
  if (counters_.size() >= max_counters_) {
    ++counters_[Key(kMsrStatsOverflowIndex, write, outcome)];
    return;
  }
  counters_.emplace(key, 1);
}

bool MsrAccessStats::AdmitDenialEvent(absl::Time now) { return denial_events_.Admit(now); }

v1::MsrStats MsrAccessStats::Snapshot() const {
  std::vector<std::pair<uint64_t, uint64_t>> entries;
  {
    absl::MutexLock lock(&mu_);
    entries.assign(counters_.begin(), counters_.end());
  }
  std::sort(entries.begin(), entries.end());
  v1::MsrStats stats;
  for (const auto& [key, count] : entries) {
    v1::MsrCounter* counter = stats.add_counters();
    counter->set_index(static_cast<uint32_t>(key >> 8));
    counter->set_access((key & 0x10) != 0 ? v1::MSR_ACCESS_WRITE : v1::MSR_ACCESS_READ);
    counter->set_outcome(static_cast<v1::MsrOutcome>(key & 0xf));
    counter->set_count(count);
  }
  stats.set_denial_events(denial_events_.admitted());
  stats.set_denial_events_suppressed(denial_events_.suppressed());
  return stats;
}

}  // namespace vmd::msr

// Per-VM counters of trapped MSR accesses by (MSR, direction, outcome), and
// the denial-event rate limit; snapshots into vmd.v1.MsrStats.
//
// Hot path: Record() is one short critical section around a flat_hash_map
// increment. Every call follows a user-space MSR exit (microseconds), so one
// mutex per VM is not the bottleneck. The map is bounded: a guest probing
// millions of distinct MSRs cannot grow it without limit; past max_counters
// keys, accesses to new MSRs are counted under index kMsrStatsOverflowIndex.
#ifndef VMD_BACKEND_MSR_MSR_STATS_H_
#define VMD_BACKEND_MSR_MSR_STATS_H_

#include <cstddef>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backend/msr/msr_rate_limiter.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// MsrCounter.index for the accesses counted after the map filled up.
inline constexpr uint32_t kMsrStatsOverflowIndex = 0xffffffff;

struct MsrStatsOptions {
  size_t max_counters = 4096;
  // Denial events: 10 per second, bursts of 20.
  double denial_events_per_second = 10;
  double denial_event_burst = 20;
};

class MsrAccessStats {
 public:
  explicit MsrAccessStats(const MsrStatsOptions& options = {});

  // Thread-safe; vCPU threads call it once per trapped access. `outcome` is
  // DENIED, EMULATED or UNHANDLED.
  void Record(uint32_t index, bool write, v1::MsrOutcome outcome);

  // For a denied access of a policy with log_denials: whether to emit a
  // denial event now. Emitted and suppressed events are counted.
  bool AdmitDenialEvent(absl::Time now = absl::Now());

  // Counters sorted by (index, access, outcome), and the event counts.
  v1::MsrStats Snapshot() const;

 private:
  static uint64_t Key(uint32_t index, bool write, v1::MsrOutcome outcome) {
    return (uint64_t{index} << 8) | (write ? 0x10u : 0u) | (static_cast<uint32_t>(outcome) & 0xf);
  }

  const size_t max_counters_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, uint64_t> counters_ ABSL_GUARDED_BY(mu_);
  TokenBucket denial_events_;
};

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_STATS_H_

// Latency percentiles from guest TSC-cycle samples.
#ifndef VMD_BACKEND_BENCH_LATENCY_STATS_H_
#define VMD_BACKEND_BENCH_LATENCY_STATS_H_

#include <cstdint>
#include <span>

namespace vmd::engine::bench {

struct LatencySummary {
  uint64_t samples = 0;
  double p50_ns = 0;
  double p99_ns = 0;
  uint64_t p50_cycles = 0;
  uint64_t p99_cycles = 0;
};

// The nearest-rank percentile (the smallest sample with at least p% of the
// samples at or below it) of `cycles`, in cycles. 0 for no samples.
uint32_t PercentileCycles(std::span<const uint32_t> cycles, double percent);

// p50 and p99 of TSC-cycle samples, converted to ns with the TSC frequency.
LatencySummary Summarize(std::span<const uint32_t> cycles, uint64_t tsc_khz);

// Cycles of a `tsc_khz` TSC in ns.
double CyclesToNs(uint64_t cycles, uint64_t tsc_khz);

}  // namespace vmd::engine::bench

#endif  // VMD_BACKEND_BENCH_LATENCY_STATS_H_

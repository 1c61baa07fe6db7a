#include "backend/bench/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace vmd::engine::bench {
namespace {

// Rank 1..n of the nearest-rank percentile: ceil(p/100 * n), at least 1.
size_t NearestRank(size_t n, double percent) {
  const double p = std::clamp(percent, 0.0, 100.0);
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(n)));
  return std::clamp<size_t>(rank, 1, n);
}

}  // namespace

uint32_t PercentileCycles(std::span<const uint32_t> cycles, double percent) {
  if (cycles.empty()) return 0;
  const size_t index = NearestRank(cycles.size(), percent) - 1;
  std::vector<uint32_t> copy(cycles.begin(), cycles.end());
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(index), copy.end());
  return copy[index];
}

double CyclesToNs(uint64_t cycles, uint64_t tsc_khz) {
  if (tsc_khz == 0) return 0;
  return static_cast<double>(cycles) * 1e6 / static_cast<double>(tsc_khz);
}

LatencySummary Summarize(std::span<const uint32_t> cycles, uint64_t tsc_khz) {
  LatencySummary s;
  s.samples = cycles.size();
  if (cycles.empty()) return s;
  std::vector<uint32_t> sorted(cycles.begin(), cycles.end());
  std::sort(sorted.begin(), sorted.end());
  s.p50_cycles = sorted[NearestRank(sorted.size(), 50) - 1];
  s.p99_cycles = sorted[NearestRank(sorted.size(), 99) - 1];
  s.p50_ns = CyclesToNs(s.p50_cycles, tsc_khz);
  s.p99_ns = CyclesToNs(s.p99_cycles, tsc_khz);
  return s;
}

}  // namespace vmd::engine::bench

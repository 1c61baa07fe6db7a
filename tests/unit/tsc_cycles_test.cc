// Nanoseconds to guest TSC cycles (backend/cpu/tsc_cycles.h).
#include "backend/cpu/tsc_cycles.h"

#include <gtest/gtest.h>

namespace vmd::cpu {
namespace {

TEST(TscCyclesTest, ExactAndWithoutOverflowForDays) {
  EXPECT_EQ(NsToCycles(1'000'000'000, 2'400'000), 2'400'000'000u) << "a second at 2.4 GHz";
  EXPECT_EQ(NsToCycles(1, 2'400'000), 2u) << "whole cycles, rounded down";
  EXPECT_EQ(NsToCycles(999'999, 1'000'000), 999'999u);
  // Ten days at 3 GHz: ns * kHz alone would pass 2^64 after about 1.7 hours.
  const uint64_t ten_days_ns = 10ull * 24 * 3600 * 1'000'000'000;
  EXPECT_EQ(NsToCycles(ten_days_ns, 3'000'000), ten_days_ns * 3);
}

}  // namespace
}  // namespace vmd::cpu

// MsrAccessStats and the denial-event token bucket.
#include "backend/msr/msr_stats.h"

#include <thread>
#include <vector>

#include "backend/msr/msr_rate_limiter.h"
#include "gtest/gtest.h"

namespace vmd::msr {
namespace {

TEST(MsrStatsTest, CountsByMsrDirectionAndOutcomeSorted) {
  MsrAccessStats stats;
  stats.Record(0x35, false, v1::MSR_OUTCOME_EMULATED);
  stats.Record(0x35, false, v1::MSR_OUTCOME_EMULATED);
  stats.Record(0x35, true, v1::MSR_OUTCOME_UNHANDLED);
  stats.Record(0x10, true, v1::MSR_OUTCOME_DENIED);
  v1::MsrStats s = stats.Snapshot();
  ASSERT_EQ(s.counters_size(), 3);
  EXPECT_EQ(s.counters(0).index(), 0x10u);
  EXPECT_EQ(s.counters(0).access(), v1::MSR_ACCESS_WRITE);
  EXPECT_EQ(s.counters(0).outcome(), v1::MSR_OUTCOME_DENIED);
  EXPECT_EQ(s.counters(0).count(), 1u);
  EXPECT_EQ(s.counters(1).index(), 0x35u);
  EXPECT_EQ(s.counters(1).access(), v1::MSR_ACCESS_READ);
  EXPECT_EQ(s.counters(1).outcome(), v1::MSR_OUTCOME_EMULATED);
  EXPECT_EQ(s.counters(1).count(), 2u);
  EXPECT_EQ(s.counters(2).access(), v1::MSR_ACCESS_WRITE);
  EXPECT_EQ(s.counters(2).outcome(), v1::MSR_OUTCOME_UNHANDLED);
}

TEST(MsrStatsTest, BoundedNumberOfCounters) {
  MsrAccessStats stats(MsrStatsOptions{.max_counters = 8});
  for (uint32_t i = 0; i < 1000; ++i) stats.Record(i, false, v1::MSR_OUTCOME_DENIED);
  v1::MsrStats s = stats.Snapshot();
  ASSERT_EQ(s.counters_size(), 9);
  const v1::MsrCounter& overflow = s.counters(8);
  EXPECT_EQ(overflow.index(), kMsrStatsOverflowIndex);
  EXPECT_EQ(overflow.count(), 992u);
  // Known keys still count.
  stats.Record(3, false, v1::MSR_OUTCOME_DENIED);
  const v1::MsrStats after = stats.Snapshot();
  EXPECT_EQ(after.counters(3).count(), 2u);
}

TEST(MsrStatsTest, ConcurrentRecording) {
  MsrAccessStats stats;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&stats, t] {
      for (int i = 0; i < 10000; ++i) stats.Record(0x10 + (i % 4), t % 2 == 1, v1::MSR_OUTCOME_DENIED);
    });
  }
  for (std::thread& t : threads) t.join();
  uint64_t total = 0;
  const v1::MsrStats snapshot = stats.Snapshot();
  for (const v1::MsrCounter& c : snapshot.counters()) total += c.count();
  EXPECT_EQ(total, 40000u);
}

TEST(TokenBucketTest, BurstThenRate) {
  TokenBucket bucket(10, 20);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += bucket.Admit(t0);
  EXPECT_EQ(admitted, 20);  // the burst
  EXPECT_EQ(bucket.suppressed(), 80u);
  // 0.5 s later: 5 more tokens.
  admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += bucket.Admit(t0 + absl::Milliseconds(500));
  EXPECT_EQ(admitted, 5);
  // A guest loop for 10 s at 1 MHz gets ~10/s through.
  admitted = 0;
  for (int ms = 1000; ms < 11000; ++ms) {
    for (int i = 0; i < 1000; ++i) admitted += bucket.Admit(t0 + absl::Milliseconds(ms));
  }
  EXPECT_GE(admitted, 100);
  EXPECT_LE(admitted, 121);  // rate * 10 s, plus at most a refilled burst
  EXPECT_EQ(bucket.admitted() + bucket.suppressed(), 200u + 10000000u);
}

TEST(TokenBucketTest, RefillsToBurstAfterIdle) {
  TokenBucket bucket(10, 20);
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(bucket.Admit(t0));
  EXPECT_FALSE(bucket.Admit(t0));
  int admitted = 0;
  for (int i = 0; i < 50; ++i) admitted += bucket.Admit(t0 + absl::Hours(1));
  EXPECT_EQ(admitted, 20);
  // Time going backwards gives nothing.
  EXPECT_FALSE(bucket.Admit(t0));
}

TEST(MsrStatsTest, DenialEventsAreRateLimitedAndCounted) {
  MsrAccessStats stats;
  const absl::Time t0 = absl::FromUnixSeconds(5);
  int emitted = 0;
  for (int i = 0; i < 1000; ++i) emitted += stats.AdmitDenialEvent(t0);
  EXPECT_EQ(emitted, 20);
  v1::MsrStats s = stats.Snapshot();
  EXPECT_EQ(s.denial_events(), 20u);
  EXPECT_EQ(s.denial_events_suppressed(), 980u);
}

}  // namespace
}  // namespace vmd::msr

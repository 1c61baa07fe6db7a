#include "daemon/core/event_log.h"

#include <gtest/gtest.h>

#include <optional>

#include "backend/rpc/error_details.h"

namespace vmd::daemon {
namespace {

v1::Event Ev(uint64_t seq, const std::string& vm) {
  v1::Event e;
  e.set_sequence(seq);
  e.set_vm_name(vm);
  return e;
}

TEST(EventLogTest, ReadsAfterASequence) {
  EventLog log(100);
  for (uint64_t i = 1; i <= 5; ++i) log.Publish(Ev(i, i % 2 ? "a" : "b"));
  std::vector<v1::Event> out;
  auto next = log.Read(2, "", 100, &out);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 5u);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].sequence(), 3u);
}

TEST(EventLogTest, AFilterStillAdvancesTheCursor) {
  EventLog log(100);
  for (uint64_t i = 1; i <= 4; ++i) log.Publish(Ev(i, i == 2 ? "a" : "b"));
  std::vector<v1::Event> out;
  auto next = log.Read(0, "a", 100, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].sequence(), 2u);
  EXPECT_EQ(*next, 4u);
}

TEST(EventLogTest, ReadsAtMostWhatItIsAskedFor) {
  EventLog log(100);
  for (uint64_t i = 1; i <= 10; ++i) log.Publish(Ev(i, i % 2 ? "a" : "b"));
  std::vector<v1::Event> out;
  auto next = log.Read(0, "a", 2, &out);
  ASSERT_TRUE(next.ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].sequence(), 3u);
  EXPECT_EQ(*next, 3u) << "the cursor stops at the last event taken";
}

TEST(EventLogTest, SubscribersHearEveryPublishUntilTheyUnsubscribe) {
  EventLog log(100);
  int heard = 0;
  const uint64_t id = log.Subscribe([&] { ++heard; });
  log.Publish(Ev(1, "a"));
  log.Publish(Ev(2, "a"));
  log.Unsubscribe(id);
  log.Publish(Ev(3, "a"));
  EXPECT_EQ(heard, 2);
  EXPECT_EQ(log.last_sequence(), 3u);
}

TEST(EventLogTest, OutOfRangeWhenEventsWereDropped) {
  EventLog log(3);
  for (uint64_t i = 1; i <= 10; ++i) log.Publish(Ev(i, "a"));
  std::vector<v1::Event> out;
  absl::Status gone = log.Read(2, "", 100, &out).status();
  EXPECT_EQ(gone.code(), absl::StatusCode::kOutOfRange);
  // Where to resume, for programs (the message says it for people).
  std::optional<google::rpc::ErrorInfo> info = rpc::GetDetail<google::rpc::ErrorInfo>(gone);
  ASSERT_TRUE(info.has_value()) << gone;
  EXPECT_EQ(info->reason(), "EVENTS_NOT_RETAINED");
  EXPECT_EQ(info->domain(), "vmd.dev");
  EXPECT_EQ(info->metadata().at("resume_sequence"), "10");
  EXPECT_EQ(info->metadata().at("oldest_retained_sequence"), "8");
  // Just before the retained window is fine: nothing is missed.
  auto next = log.Read(7, "", 100, &out);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(out.size(), 3u);
}

TEST(EventLogTest, ZeroMeansFromTheOldestRetainedOnABusyLog) {
  EventLog log(3);
  for (uint64_t i = 1; i <= 10; ++i) log.Publish(Ev(i, "a"));
  std::vector<v1::Event> out;
  auto next = log.Read(0, "", 100, &out);
  ASSERT_TRUE(next.ok()) << next.status();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out.front().sequence(), 8u);
  EXPECT_EQ(*next, 10u);
}

}  // namespace
}  // namespace vmd::daemon

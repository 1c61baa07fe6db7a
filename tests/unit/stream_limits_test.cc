#include "daemon/api/stream_limits.h"

#include <optional>
#include <deque>

#include <gtest/gtest.h>

#include "backend/rpc/error_details.h"

namespace vmd::daemon {
namespace {

TEST(StreamLimitsTest, AClientIsItsAddressWithoutThePort) {
  EXPECT_EQ(StreamClientKey("ipv4:10.0.0.1:5123"), "ipv4:10.0.0.1");
  EXPECT_EQ(StreamClientKey("ipv6:[::1]:40000"), "ipv6:[::1]");
  EXPECT_EQ(StreamClientKey("unix:"), "unix");
  EXPECT_EQ(StreamClientKey("unix:/run/a.sock"), "unix");
}

TEST(StreamLimitsTest, EachClientHasItsShareAndAllTogetherTheTotal) {
  StreamLimits limits(/*max_total=*/3, /*max_per_client=*/2);
  std::deque<StreamLimits::Slot> held;
  held.push_back(*limits.Acquire("ipv4:10.0.0.1:1"));
  held.push_back(*limits.Acquire("ipv4:10.0.0.1:2"));
  absl::Status mine = limits.Acquire("ipv4:10.0.0.1:3").status();
  EXPECT_EQ(mine.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(mine.message().find("--max-streams-per-client"), std::string::npos) << mine;
  std::optional<google::rpc::ErrorInfo> info = rpc::GetDetail<google::rpc::ErrorInfo>(mine);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "STREAM_LIMIT");
  EXPECT_EQ(info->metadata().at("limit"), "max_streams_per_client");

  held.push_back(*limits.Acquire("ipv4:10.0.0.2:1"));  // another client
  absl::Status total = limits.Acquire("ipv4:10.0.0.3:1").status();
  EXPECT_EQ(total.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(total.message().find("--max-streams)"), std::string::npos) << total;
  EXPECT_EQ(limits.open(), 3u);

  held.pop_front();  // a stream ends: its place is free again
  EXPECT_EQ(limits.open(), 2u);
  EXPECT_TRUE(limits.Acquire("ipv4:10.0.0.1:4").ok());
  EXPECT_EQ(limits.open(), 2u) << "a slot not kept is given back at once";
}

}  // namespace
}  // namespace vmd::daemon

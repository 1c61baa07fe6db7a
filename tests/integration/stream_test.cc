// Streams under an adversarial client (hardening issue): many WatchEvents
// streams that never read, under event churn, leave vmd's memory and
// threads bounded and give everything back when cancelled; console follows
// take no thread each; the caps refuse with RESOURCE_EXHAUSTED naming the
// limit; a client that stops reading is cut off with where to resume.
#include <chrono>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A field of /proc/PID/status ("VmRSS", "Threads"), as a number.
long ProcStatus(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

// A channel on a connection of its own (no shared subchannel), so that a
// test can spread streams over connections as many clients would.
std::shared_ptr<grpc::Channel> OwnChannel(DaemonProcess& vmd, std::optional<int> receive_window = std::nullopt) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (receive_window) {
    // A small window and no BDP probing: the server's writes stop as soon
    // as a few messages are unread.
    args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, *receive_window);
    args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  }
  return grpc::CreateCustomChannel(vmd.address(), grpc::InsecureChannelCredentials(), args);
}

// An open stream and its context.
template <typename Msg>
struct OpenStream {
  std::unique_ptr<grpc::ClientContext> ctx = std::make_unique<grpc::ClientContext>();
  std::unique_ptr<grpc::ClientReader<Msg>> reader;
};

OpenStream<v1::Event> Watch(v1::VmService::Stub* vms, uint64_t after = 0) {
  OpenStream<v1::Event> s;
  v1::WatchEventsRequest r;
  r.set_after_sequence(after);
  s.reader = vms->WatchEvents(s.ctx.get(), r);
  return s;
}

// Creates and deletes `n` VMs: 2n events.
void Churn(v1::VmService::Stub* vms, int n, const std::string& prefix) {
  for (int i = 0; i < n; ++i) {
    const std::string name = prefix + std::to_string(i);
    grpc::ClientContext c;
    v1::CreateVmRequest create;
    *create.mutable_spec() = SmallSpec(name);
    v1::Vm vm;
    ASSERT_TRUE(vms->CreateVm(&c, create, &vm).ok());
    grpc::ClientContext d;
    v1::DeleteVmRequest del;
    del.set_name(name);
    v1::DeleteVmResponse gone;
    ASSERT_TRUE(vms->DeleteVm(&d, del, &gone).ok());
  }
}

std::optional<google::rpc::ErrorInfo> ErrorInfoOf(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return std::nullopt;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info;
  }
  return std::nullopt;
}

TEST(StreamTest, IdleWatchersUnderChurnLeaveVmdBoundedAndGiveItAllBack) {
  DaemonProcess vmd({"--max-streams", "600", "--max-streams-per-client", "600"});
  vmd.Start();
  auto control = vmd.vms();
  Churn(control.get(), 5, "warm");
  const long rss_before = ProcStatus(vmd.pid(), "VmRSS");
  const long threads_before = ProcStatus(vmd.pid(), "Threads");

  constexpr int kConnections = 5, kPerConnection = 100;
  std::vector<std::unique_ptr<v1::VmService::Stub>> stubs;
  std::vector<OpenStream<v1::Event>> watchers;
  for (int c = 0; c < kConnections; ++c) {
    stubs.push_back(v1::VmService::NewStub(OwnChannel(vmd, 4096)));
    for (int i = 0; i < kPerConnection; ++i) watchers.push_back(Watch(stubs.back().get()));
  }
  Churn(control.get(), 300, "churn");  // 600 events, ~100 KiB to each watcher
  const long rss_open = ProcStatus(vmd.pid(), "VmRSS");
  const long threads_open = ProcStatus(vmd.pid(), "Threads");
  for (auto& w : watchers) w.ctx->TryCancel();
  watchers.clear();
  std::this_thread::sleep_for(seconds(1));
  const long rss_after = ProcStatus(vmd.pid(), "VmRSS");
  std::cout << "vmd RSS " << rss_before << " kB, with 500 idle watchers after 600 events " << rss_open
            << " kB, after cancelling them " << rss_after << " kB; threads " << threads_before << " -> "
            << threads_open << "\n";
  // The old server grew by 1.2 GB here and kept 857 MB. One message in
  // flight per stream, and no thread per stream.
  EXPECT_LT(threads_open - threads_before, 20);
#ifdef __SANITIZE_ADDRESS__
  std::cout << "RSS bounds not checked: this vmd is built with AddressSanitizer, whose quarantine keeps freed memory\n";
#else
  EXPECT_LT(rss_open - rss_before, 150 * 1024) << "kB";
  EXPECT_LT(rss_after - rss_before, 100 * 1024) << "kB";
#endif

  // Everything was given back: all 600 places can be taken again.
  std::vector<OpenStream<v1::Event>> again;
  for (int i = 0; i < 600; ++i) again.push_back(Watch(control.get()));
  v1::Event e;
  ASSERT_TRUE(again.back().reader->Read(&e)) << "the 600th stream is served";
  for (auto& w : again) w.ctx->TryCancel();
}

TEST(StreamTest, ConsoleFollowsTakeNoThreadEach) {
  DaemonProcess vmd;
  vmd.Start();
  auto vms = vmd.vms();
  {
    grpc::ClientContext c;
    v1::CreateVmRequest create;
    *create.mutable_spec() = SmallSpec("con", v1::BACKEND_SIM, "counter");
    v1::Vm vm;
    ASSERT_TRUE(vms->CreateVm(&c, create, &vm).ok());
  }
  const long threads_before = ProcStatus(vmd.pid(), "Threads");
  std::vector<OpenStream<v1::ConsoleChunk>> follows;
  for (int i = 0; i < 200; ++i) {
    OpenStream<v1::ConsoleChunk> s;
    v1::StreamConsoleRequest r;
    r.set_name("con");
    r.set_follow(true);
    s.reader = vms->StreamConsole(s.ctx.get(), r);
    follows.push_back(std::move(s));
  }
  {
    grpc::ClientContext c;
    v1::StartVmRequest start;
    start.set_name("con");
    v1::Vm vm;
    ASSERT_TRUE(vms->StartVm(&c, start, &vm).ok());
  }
  // Every follower sees the output.
  for (auto& f : {0, 99, 199}) {
    v1::ConsoleChunk chunk;
    ASSERT_TRUE(follows[f].reader->Read(&chunk)) << "follower " << f;
    EXPECT_EQ(chunk.offset(), 0u);
  }
  const long threads_open = ProcStatus(vmd.pid(), "Threads");
  std::cout << "vmd threads " << threads_before << " -> " << threads_open << " with 200 console follows\n";
  EXPECT_LT(threads_open - threads_before, 20) << "the old server held a thread per follow";
  for (auto& f : follows) f.ctx->TryCancel();
}

TEST(StreamTest, TheCapsRefuseWithResourceExhaustedNamingTheLimit) {
  DaemonProcess vmd({"--max-streams-per-client", "3"});
  vmd.Start();
  auto vms = vmd.vms();
  std::vector<OpenStream<v1::Event>> held;
  for (int i = 0; i < 3; ++i) held.push_back(Watch(vms.get()));
  v1::Event e;
  Churn(vms.get(), 1, "x");
  for (auto& w : held) ASSERT_TRUE(w.reader->Read(&e));
  OpenStream<v1::Event> fourth = Watch(vms.get());
  EXPECT_FALSE(fourth.reader->Read(&e));
  grpc::Status refused = fourth.reader->Finish();
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("--max-streams-per-client"), std::string::npos) << refused.error_message();
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(refused);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "STREAM_LIMIT");
  // A console stream counts too.
  OpenStream<v1::ConsoleChunk> console;
  v1::StreamConsoleRequest r;
  r.set_name("nope");
  console.reader = vms->StreamConsole(console.ctx.get(), r);
  v1::ConsoleChunk chunk;
  EXPECT_FALSE(console.reader->Read(&chunk));
  EXPECT_EQ(console.reader->Finish().error_code(), grpc::StatusCode::NOT_FOUND) << "validation comes first";

  // One ends: its place is free again.
  held.front().ctx->TryCancel();
  held.erase(held.begin());
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    OpenStream<v1::Event> next = Watch(vms.get());
    served = next.reader->Read(&e);
    if (!served) std::this_thread::sleep_for(milliseconds(100));
    next.ctx->TryCancel();
  }
  EXPECT_TRUE(served);
}

TEST(StreamTest, AReaderThatStopsIsCutOffWithWhereToResume) {
  // The grace is long: the churn's own length (seconds under sanitizers)
  // must not decide whether the reader is back in time.
  DaemonProcess vmd({"--stream-stall-seconds", "1", "--stream-grace-seconds", "300"});
  vmd.Start();
  auto control = vmd.vms();
  auto slow = v1::VmService::NewStub(OwnChannel(vmd, 1024));
  OpenStream<v1::Event> watcher = Watch(slow.get());
  Churn(control.get(), 200, "s");  // far more than the window holds
  std::this_thread::sleep_for(milliseconds(2500));  // past the stall limit
  // It reads again: what was sent, then the end, with where to resume.
  uint64_t last = 0;
  v1::Event e;
  while (watcher.reader->Read(&e)) last = e.sequence();
  grpc::Status end = watcher.reader->Finish();
  ASSERT_EQ(end.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << end.error_message();
  EXPECT_LT(last, 400u) << "cut off before the end of the churn";
  std::optional<google::rpc::ErrorInfo> info = ErrorInfoOf(end);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "STREAM_STALLED");
  EXPECT_EQ(info->metadata().at("resume_sequence"), std::to_string(last)) << "it has everything up to there";
  // Resuming from there misses nothing.
  OpenStream<v1::Event> resumed = Watch(control.get(), last);
  ASSERT_TRUE(resumed.reader->Read(&e));
  EXPECT_EQ(e.sequence(), last + 1);
  resumed.ctx->TryCancel();
}

TEST(StreamTest, AFinishedStreamWhoseClientNeverReadsIsCancelled) {
  // The stalled stream's status waits behind its unread message; a client
  // that never reads again must not keep the place for ever.
  DaemonProcess vmd({"--stream-stall-seconds", "1", "--stream-grace-seconds", "1", "--max-streams-per-client", "1"});
  vmd.Start();
  auto control = vmd.vms();
  auto slow = v1::VmService::NewStub(OwnChannel(vmd, 1024));
  OpenStream<v1::Event> watcher = Watch(slow.get());
  Churn(control.get(), 200, "f");
  // Stall (1 s) plus the grace (1 s): the place is free without any read.
  bool served = false;
  v1::Event e;
  for (int attempt = 0; attempt < 100 && !served; ++attempt) {
    std::this_thread::sleep_for(milliseconds(200));
    OpenStream<v1::Event> next = Watch(control.get());
    served = next.reader->Read(&e);
    next.ctx->TryCancel();
  }
  EXPECT_TRUE(served);
}

}  // namespace
}  // namespace vmd::testing

// VmdClient against the in-process fake daemon: results, status mapping,
// deadlines, paging and stream cancellation.
#include "client/vmd_client.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "backend/rpc/grpc_status.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/fake_vmd.h"

namespace vmd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::vmd::testing::FakeState;
using ::vmd::testing::FakeVmd;
using ::vmd::testing::MakeVm;
using ::vmd::testing::StreamMode;
using ::vmd::rpc::ToAbslStatus;
using ::vmd::rpc::ToGrpcStatus;

v1::Event MakeEvent(uint64_t sequence, const std::string& vm) {
  v1::Event event;
  event.set_sequence(sequence);
  event.set_type(v1::EVENT_TYPE_STATE_CHANGED);
  event.set_vm_name(vm);
  return event;
}

class VmdClientTest : public ::testing::Test {
 protected:
  VmdClientTest() : client_(fake_.address()) {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().vms["a"] =
        MakeVm("a", v1::VM_STATE_RUNNING, absl::FromUnixSeconds(1700000000));
    fake_.state().vms["b"] =
        MakeVm("b", v1::VM_STATE_STOPPED, absl::FromUnixSeconds(1700000000));
  }

  std::vector<std::string> Names(const std::vector<v1::Vm>& vms) {
    std::vector<std::string> names;
    for (const v1::Vm& vm : vms) names.push_back(vm.spec().name());
    return names;
  }

  FakeVmd fake_;
  VmdClient client_;
};

TEST_F(VmdClientTest, GetVmReturnsTheVm) {
  v1::GetVmRequest request;
  request.set_name("a");
  absl::StatusOr<v1::Vm> vm = client_.GetVm(request);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->id(), "id-a");
  EXPECT_EQ(vm->status().state(), v1::VM_STATE_RUNNING);
  EXPECT_FALSE(client_.IsDisconnected());
}

TEST_F(VmdClientTest, ServerErrorsKeepTheirCodeAndMessage) {
  v1::GetVmRequest get;
  get.set_name("missing");
  absl::StatusOr<v1::Vm> vm = client_.GetVm(get);
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(vm.status().message(), "vm \"missing\" not found");

  v1::StartVmRequest start;
  start.set_name("a");
  vm = client_.StartVm(start);
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(vm.status().message(),
            "vm \"a\" is RUNNING; StartVm needs CREATED, STOPPED or CRASHED");

  v1::CreateVmRequest create;
  create.mutable_spec()->set_name("b");
  vm = client_.CreateVm(create);
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kAlreadyExists);

  // The daemon itself answering UNAVAILABLE is not a lost connection.
  v1::ResumeVmRequest resume;
  resume.set_name("a");
  vm = client_.ResumeVm(resume);
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(vm.status().message(), "engine of vm \"a\" is not answering");
  EXPECT_FALSE(client_.IsDisconnected());
}

TEST_F(VmdClientTest, RequestsReachTheServerIntact) {
  v1::CreateVmRequest create;
  create.set_request_id("req-1");
  create.mutable_spec()->set_name("c");
  create.mutable_spec()->set_vcpus(4);
  (*create.mutable_spec()->mutable_labels())["env"] = "prod";
  absl::StatusOr<v1::Vm> vm = client_.CreateVm(create);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->spec().vcpus(), 4u);

  v1::StopVmRequest stop;
  stop.set_name("c");
  stop.set_timeout_ms(1500);
  stop.set_force(true);
  vm = client_.StopVm(stop);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->status().state(), v1::VM_STATE_STOPPED);

  v1::DeleteVmRequest del;
  del.set_name("c");
  EXPECT_TRUE(client_.DeleteVm(del).ok());
  EXPECT_EQ(client_.DeleteVm(del).status().code(),
            absl::StatusCode::kNotFound);

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().create_requests.size(), 1u);
  EXPECT_EQ(fake_.state().create_requests[0].request_id(), "req-1");
  EXPECT_EQ(fake_.state().create_requests[0].spec().labels().at("env"),
            "prod");
  ASSERT_EQ(fake_.state().stop_requests.size(), 1u);
  EXPECT_EQ(fake_.state().stop_requests[0].timeout_ms(), 1500u);
  EXPECT_TRUE(fake_.state().stop_requests[0].force());
}

TEST_F(VmdClientTest, DeadlineExceededWhenTheServerIsSlow) {
  v1::PauseVmRequest request;
  request.set_name("a");
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::Vm> vm =
      client_.PauseVm(request, {.timeout = absl::Milliseconds(200)});
  EXPECT_EQ(vm.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(150));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  // The server saw the call end.
  EXPECT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.cancelled_calls == 1; },
      absl::Seconds(10)));
}

TEST_F(VmdClientTest, UnreachableDaemonIsUnavailable) {
  VmdClient client("unix:/nonexistent/vmd.sock");
  EXPECT_EQ(client.address(), "unix:/nonexistent/vmd.sock");
  absl::StatusOr<v1::HostInfo> info = client.GetHostInfo();
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(client.IsDisconnected());
}

TEST_F(VmdClientTest, BarePathIsAUnixSocket) {
  const std::string path = fake_.address().substr(5);  // Without "unix:".
  VmdClient client(path);
  EXPECT_EQ(client.address(), fake_.address());
  EXPECT_TRUE(client.GetHostInfo().ok());
}

TEST_F(VmdClientTest, GetHostInfo) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().host_info.set_version("9.9.9");
    fake_.state().host_info.set_auto_backend("sim");
  }
  absl::StatusOr<v1::HostInfo> info = client_.GetHostInfo();
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->version(), "9.9.9");
  EXPECT_EQ(info->auto_backend(), "sim");
}

TEST_F(VmdClientTest, RunProbeSendsTheOpsAndReturnsTheResults) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    v1::Vm& vm = fake_.state().vms["a"];
    vm.mutable_spec()->set_workload("probe");
    v1::RunProbeResponse& response = fake_.state().probe_response;
    v1::ProbeResult* result = response.add_results();
    result->set_outcome(v1::PROBE_OUTCOME_OK);
    result->add_values(0xfee00d00);
    response.add_results()->set_outcome(v1::PROBE_OUTCOME_FAULT);
    response.mutable_results(1)->set_vector(13);
    response.set_backend("sim");
  }
  v1::RunProbeRequest request;
  request.set_name("a");
  request.set_timeout_ms(250);
  request.add_ops()->mutable_rdmsr()->set_index(0x1b);
  request.add_ops()->mutable_wrmsr()->set_index(0x4b564d00);
  absl::StatusOr<v1::RunProbeResponse> response = client_.RunProbe(
      request, {.timeout = absl::Seconds(10)});
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 2);
  EXPECT_THAT(response->results(0).values(), ElementsAre(0xfee00d00u));
  EXPECT_EQ(response->results(1).outcome(), v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(response->results(1).vector(), 13u);
  EXPECT_EQ(response->backend(), "sim");

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().probe_requests.size(), 1u);
  const v1::RunProbeRequest& sent = fake_.state().probe_requests[0];
  EXPECT_EQ(sent.name(), "a");
  EXPECT_EQ(sent.timeout_ms(), 250u);
  ASSERT_EQ(sent.ops_size(), 2);
  EXPECT_EQ(sent.ops(0).rdmsr().index(), 0x1bu);
  EXPECT_EQ(sent.ops(1).wrmsr().index(), 0x4b564d00u);
}

TEST_F(VmdClientTest, RunGuestBenchReturnsTheReport) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    v1::Vm& vm = fake_.state().vms["a"];
    vm.mutable_spec()->set_workload("probe");
    vm.mutable_status()->set_backend(v1::BACKEND_KVM);
    fake_.state().bench_report.set_tsc_khz(2995200);
    fake_.state().bench_report.set_pio_ratio_to_floor(1.07);
  }
  v1::RunGuestBenchRequest request;
  request.set_name("a");
  request.set_iterations(500);
  absl::StatusOr<v1::GuestBenchReport> report = client_.RunGuestBench(request);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->tsc_khz(), 2995200u);
  EXPECT_DOUBLE_EQ(report->pio_ratio_to_floor(), 1.07);

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().bench_requests.size(), 1u);
  EXPECT_EQ(fake_.state().bench_requests[0].iterations(), 500u);
}

TEST_F(VmdClientTest, ProbeServiceErrorsKeepTheirCodeAndMessage) {
  v1::RunProbeRequest probe;
  probe.set_name("b");
  probe.add_ops()->mutable_rdtsc();
  absl::StatusOr<v1::RunProbeResponse> response = client_.RunProbe(probe);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(response.status().message(),
            "vm \"b\" is stopped; probes need state running");

  v1::RunGuestBenchRequest bench;
  bench.set_name("missing");
  absl::StatusOr<v1::GuestBenchReport> report = client_.RunGuestBench(bench);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(report.status().message(), "vm \"missing\" not found");
}

TEST_F(VmdClientTest, SetMsrPolicySendsThePolicyOrThePreset) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_filter.set_ranges(2);
    fake_.state().msr_filter.set_exit_reasons(4);
    fake_.state().msr_warnings = {"w"};
    fake_.state().msr_presets["strict"].set_default_action(v1::MSR_ACTION_DENY);
  }
  v1::SetMsrPolicyRequest request;
  request.set_name("a");
  request.set_request_id("req-1");
  v1::MsrPolicy* policy = request.mutable_policy();
  policy->set_default_action(v1::MSR_ACTION_DENY);
  policy->set_log_denials(true);
  v1::MsrRule* rule = policy->add_rules();
  rule->set_first(0x10);
  rule->set_count(1);
  rule->set_access(v1::MSR_ACCESS_READ);
  rule->set_action(v1::MSR_ACTION_EMULATE);
  v1::MsrHandler* handler = policy->add_handlers();
  handler->set_index(0x10);
  handler->set_read(v1::MsrHandler::READ_SOURCE_CONSTANT);
  handler->set_constant(0xffffffffffffffffu);
  handler->set_write(v1::MsrHandler::WRITE_ACTION_STORE);
  absl::StatusOr<v1::SetMsrPolicyResponse> response =
      client_.SetMsrPolicy(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      response->policy(), request.policy()));
  EXPECT_EQ(response->filter().ranges(), 2u);
  EXPECT_EQ(response->filter().exit_reasons(), 4u);
  EXPECT_THAT(response->warnings(), ElementsAre("w"));

  v1::SetMsrPolicyRequest preset;
  preset.set_name("b");
  preset.set_preset("strict");
  response = client_.SetMsrPolicy(preset);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->policy().default_action(), v1::MSR_ACTION_DENY);
  EXPECT_EQ(response->policy().preset(), "strict");

  absl::MutexLock lock(&fake_.state().mu);
  const auto& sent = fake_.state().set_msr_policy_requests;
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(sent[0], request))
      << sent[0].DebugString();
  EXPECT_EQ(sent[1].source_case(), v1::SetMsrPolicyRequest::kPreset);
  EXPECT_EQ(sent[1].preset(), "strict");
  EXPECT_EQ(sent[1].request_id(), "");
}

TEST_F(VmdClientTest, GetMsrPolicyAndStats) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_policies["a"].set_preset("platform-compat");
    v1::MsrCounter* counter = fake_.state().msr_stats["a"].add_counters();
    counter->set_index(0x3a);
    counter->set_access(v1::MSR_ACCESS_WRITE);
    counter->set_outcome(v1::MSR_OUTCOME_DENIED);
    counter->set_count(7);
    fake_.state().msr_stats["a"].set_denial_events(7);
  }
  v1::GetMsrPolicyRequest get;
  get.set_name("a");
  absl::StatusOr<v1::MsrPolicy> policy = client_.GetMsrPolicy(get);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->preset(), "platform-compat");

  v1::GetMsrStatsRequest stats_request;
  stats_request.set_name("a");
  absl::StatusOr<v1::MsrStats> stats = client_.GetMsrStats(stats_request);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->counters_size(), 1);
  EXPECT_EQ(stats->counters(0).index(), 0x3au);
  EXPECT_EQ(stats->counters(0).count(), 7u);
  EXPECT_EQ(stats->denial_events(), 7u);
}

TEST_F(VmdClientTest, MsrServiceErrorsKeepTheirCodeAndMessage) {
  v1::SetMsrPolicyRequest set;
  set.set_name("a");
  set.set_preset("lax");
  absl::StatusOr<v1::SetMsrPolicyResponse> response = client_.SetMsrPolicy(set);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(),
            "preset: unknown preset \"lax\"; expected default, strict or "
            "platform-compat");

  set.mutable_policy()->add_rules()->set_first(0x10);  // count 0.
  response = client_.SetMsrPolicy(set);
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "rules[0].count: must be at least 1");

  v1::GetMsrPolicyRequest get;
  get.set_name("missing");
  absl::StatusOr<v1::MsrPolicy> policy = client_.GetMsrPolicy(get);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(policy.status().message(), "vm \"missing\" not found");

  v1::GetMsrStatsRequest stats;
  stats.set_name("b");
  absl::StatusOr<v1::MsrStats> got = client_.GetMsrStats(stats);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(got.status().message(),
            "vm \"b\" is stopped; MSR stats need state running");
}

TEST_F(VmdClientTest, ListAllVmsFollowsEveryPage) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    for (const char* name : {"c", "d", "e"}) {
      fake_.state().vms[name] =
          MakeVm(name, v1::VM_STATE_CREATED, absl::Now());
    }
  }
  v1::ListVmsRequest request;
  request.set_page_size(2);
  uint64_t head_sequence = 0;
  absl::StatusOr<std::vector<v1::Vm>> vms =
      client_.ListAllVms(request, CallOptions{}, &head_sequence);
  ASSERT_TRUE(vms.ok()) << vms.status();
  EXPECT_THAT(Names(*vms), ElementsAre("a", "b", "c", "d", "e"));
  EXPECT_EQ(head_sequence, 101u) << "the first page's: nothing after it is missed";

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().list_requests.size(), 3u);
  EXPECT_EQ(fake_.state().list_requests[0].page_token(), "");
  EXPECT_EQ(fake_.state().list_requests[1].page_token(), "2");
  EXPECT_EQ(fake_.state().list_requests[2].page_token(), "4");
  EXPECT_EQ(fake_.state().list_requests[2].page_size(), 2);
}

TEST_F(VmdClientTest, ListVmsIsOnePage) {
  v1::ListVmsRequest request;
  request.set_page_size(1);
  absl::StatusOr<v1::ListVmsResponse> page = client_.ListVms(request);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->vms_size(), 1);
  EXPECT_EQ(page->next_page_token(), "1");
}

TEST_F(VmdClientTest, ListAllVmsPassesFiltersAndErrors) {
  v1::ListVmsRequest request;
  request.add_states(v1::VM_STATE_STOPPED);
  absl::StatusOr<std::vector<v1::Vm>> vms = client_.ListAllVms(request);
  ASSERT_TRUE(vms.ok()) << vms.status();
  EXPECT_THAT(Names(*vms), ElementsAre("b"));

  request.set_page_size(5000);
  EXPECT_EQ(client_.ListAllVms(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(VmdClientTest, ListAllVmsStopsOnARepeatedPageToken) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().stuck_page_token = "0";  // Back to the first page.
  }
  absl::StatusOr<std::vector<v1::Vm>> vms = client_.ListAllVms({});
  EXPECT_EQ(vms.status().code(), absl::StatusCode::kAborted);
  EXPECT_THAT(vms.status().message(), HasSubstr("page token \"0\" twice"));
}

TEST_F(VmdClientTest, WatchEventsDeliversTheBacklogUntilTheServerEnds) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().events = {MakeEvent(1, "a"), MakeEvent(2, "b"),
                            MakeEvent(3, "a"), MakeEvent(4, "a")};
  }
  v1::WatchEventsRequest request;
  request.set_after_sequence(1);
  request.set_vm_name("a");
  std::vector<uint64_t> sequences;
  absl::Status status = client_.WatchEvents(request, [&](const v1::Event& e) {
    sequences.push_back(e.sequence());
    return true;
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_THAT(sequences, ElementsAre(3, 4));
}

TEST_F(VmdClientTest, WatchEventsReportsStreamErrors) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().first_retained_sequence = 10;
  }
  int calls = 0;
  absl::Status status = client_.WatchEvents({}, [&](const v1::Event&) {
    ++calls;
    return true;
  });
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(status.message(),
            "events after 0 are no longer retained; the oldest is 10");
  EXPECT_EQ(calls, 0);
}

TEST_F(VmdClientTest, CallbackReturningFalseStopsAnEndlessStream) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().stream_mode = StreamMode::kEndless;
  }
  int calls = 0;
  absl::Status status = client_.WatchEvents({}, [&](const v1::Event&) {
    return ++calls < 3;
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 3);
  EXPECT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.cancelled_calls == 1; },
      absl::Seconds(10)));
}

TEST_F(VmdClientTest, CancelFromAnotherThreadEndsAnOpenStream) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().events = {MakeEvent(1, "a")};
    fake_.state().stream_mode = StreamMode::kHoldOpen;
  }
  StreamCanceller canceller;
  absl::Notification first_event;
  absl::Status status = absl::UnknownError("not run");
  int calls = 0;
  std::thread watcher([&] {
    status = client_.WatchEvents(
        {},
        [&](const v1::Event&) {
          ++calls;
          first_event.Notify();
          return true;
        },
        &canceller);
  });
  ASSERT_TRUE(first_event.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // The stream is open and idle now; only the cancel can end it.
  canceller.Cancel();
  watcher.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(canceller.IsCancelled());
  EXPECT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.cancelled_calls == 1; },
      absl::Seconds(10)));
}

TEST_F(VmdClientTest, CancelBeforeTheCallSendsNothing) {
  StreamCanceller canceller;
  canceller.Cancel();
  int calls = 0;
  absl::Status status = client_.WatchEvents(
      {},
      [&](const v1::Event&) {
        ++calls;
        return true;
      },
      &canceller);
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(calls, 0);
  absl::MutexLock lock(&fake_.state().mu);
  EXPECT_EQ(fake_.state().watch_calls, 0);
}

TEST_F(VmdClientTest, StreamDeadlineBoundsTheWholeStream) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().stream_mode = StreamMode::kHoldOpen;
  }
  absl::Status status = client_.WatchEvents(
      {}, [](const v1::Event&) { return true; }, nullptr,
      {.timeout = absl::Milliseconds(200)});
  EXPECT_EQ(status.code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(VmdClientTest, StreamConsoleFromAnOffset) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().consoles["a"] = "hello, console\n";
  }
  v1::StreamConsoleRequest request;
  request.set_name("a");
  request.set_offset(7);
  std::string text;
  std::vector<uint64_t> offsets;
  absl::Status status =
      client_.StreamConsole(request, [&](const v1::ConsoleChunk& chunk) {
        offsets.push_back(chunk.offset());
        text += chunk.data();
        return true;
      });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(text, "console\n");
  EXPECT_THAT(offsets, ElementsAre(7, 11));

  request.set_name("nope");
  status = client_.StreamConsole(request,
                                 [](const v1::ConsoleChunk&) { return true; });
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST_F(VmdClientTest, FollowedConsoleEndsOnCancel) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().consoles["a"] = "boot\n";
  }
  v1::StreamConsoleRequest request;
  request.set_name("a");
  request.set_follow(true);
  StreamCanceller canceller;
  std::string text;
  absl::Status status;
  std::thread follower([&] {
    status = client_.StreamConsole(
        request,
        [&](const v1::ConsoleChunk& chunk) {
          text += chunk.data();
          return true;
        },
        &canceller);
  });
  ASSERT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.console_calls == 1; },
      absl::Seconds(10)));
  canceller.Cancel();
  follower.join();
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.cancelled_calls == 1; },
      absl::Seconds(10)));
}

TEST(GrpcStatusTest, EveryCodeMapsBothWays) {
  for (int code = 0; code <= 16; ++code) {
    const grpc::Status grpc_status(static_cast<grpc::StatusCode>(code),
                                   code == 0 ? "" : "why");
    const absl::Status absl_status = ToAbslStatus(grpc_status);
    EXPECT_EQ(static_cast<int>(absl_status.code()), code);
    EXPECT_EQ(absl_status.message(), code == 0 ? "" : "why");
    const grpc::Status back = ToGrpcStatus(absl_status);
    EXPECT_EQ(back.error_code(), grpc_status.error_code());
    EXPECT_EQ(back.error_message(), grpc_status.error_message());
  }
  EXPECT_EQ(ToAbslStatus(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                                      "m")),
            absl::FailedPreconditionError("m"));
}

}  // namespace
}  // namespace vmd::client

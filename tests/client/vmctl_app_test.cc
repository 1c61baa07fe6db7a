// vmctl end to end against the in-process fake daemon: arguments to
// requests, output, exit statuses and the one-line error messages.
#include "client/vmctl_app.h"

#include <stdlib.h>

#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "tests/client/fake_vmd.h"
#include "tests/client/run_vmctl.h"

namespace vmd::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;
using ::vmd::testing::FakeVmd;
using ::vmd::testing::MakeVm;

using Result = ::vmd::testing::VmctlResult;

class VmctlTest : public ::testing::Test {
 protected:
  VmctlTest() {
    absl::MutexLock lock(&fake_.state().mu);
    v1::Vm a = MakeVm("a", v1::VM_STATE_RUNNING,
                      absl::Now() - absl::Hours(3) - absl::Minutes(30));
    a.mutable_status()->set_backend(v1::BACKEND_SIM);
    a.mutable_status()->set_engine_pid(4242);
    (*a.mutable_spec()->mutable_labels())["env"] = "prod";
    fake_.state().vms["a"] = a;
    // Ages in whole minutes/hours, so that a slow test run cannot change
    // the AGE column.
    fake_.state().vms["b"] =
        MakeVm("b", v1::VM_STATE_STOPPED,
               absl::Now() - absl::Minutes(10) - absl::Seconds(20));
  }

  // Runs vmctl --address <fake> <args...>.
  Result Run(std::vector<std::string> args, bool with_address = true) {
    return ::vmd::testing::RunVmctlForTest(
        with_address ? fake_.address() : "", args);
  }

  int CreateCalls() {
    absl::MutexLock lock(&fake_.state().mu);
    return static_cast<int>(fake_.state().create_requests.size());
  }

  FakeVmd fake_;
};

TEST_F(VmctlTest, GetPrintsKeyValueLines) {
  Result r = Run({"get", "a"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_THAT(r.out, StartsWith("name:       a\n"
                                "id:         id-a\n"
                                "state:      running\n"
                                "backend:    sim\n"
                                "vcpus:      1\n"
                                "memory:     128MiB\n"
                                "workload:   idle\n"
                                "labels:     env=prod\n"
                                "engine pid: 4242\n"
                                "created:    "));
}

TEST_F(VmctlTest, ServerErrorIsOneLineAndExitStatusOne) {
  Result r = Run({"get", "missing"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"missing\" not found\n");

  r = Run({"start", "a"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"a\" is RUNNING; StartVm needs "
            "CREATED, STOPPED or CRASHED\n");
}

TEST_F(VmctlTest, DaemonUnavailableIsNotCalledUnreachable) {
  Result r = Run({"resume", "a"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "vmctl: UNAVAILABLE: engine of vm \"a\" is not answering\n");
}

TEST_F(VmctlTest, UnreachableDaemonNamesTheAddress) {
  Result r = Run({"--address", "unix:/nonexistent/vmd.sock", "get", "a"},
                 /*with_address=*/false);
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_THAT(r.err, StartsWith("vmctl: UNAVAILABLE: cannot reach vmd at "
                                "unix:/nonexistent/vmd.sock: "));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
  EXPECT_EQ(r.err.back(), '\n');
}

TEST_F(VmctlTest, AddressDefaultsToVmdAddressVariable) {
  setenv("VMD_ADDRESS", fake_.address().c_str(), 1);
  Result r = Run({"get", "b"}, /*with_address=*/false);
  unsetenv("VMD_ADDRESS");
  EXPECT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("state:      stopped\n"));
}

TEST_F(VmctlTest, CreateSendsEveryOption) {
  Result r = Run({"create", "web-1", "--vcpus", "2", "--memory-mib", "256",
                  "--backend", "sim", "--sim-profile", "intel-spr",
                  "--workload", "counter", "--label", "env=prod", "--label",
                  "team=x,tier=", "--request-id", "req-7"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, StartsWith("name:"));
  EXPECT_THAT(r.out, HasSubstr("\nstate:       created\n"));

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().create_requests.size(), 1u);
  const v1::CreateVmRequest& request = fake_.state().create_requests[0];
  EXPECT_EQ(request.request_id(), "req-7");
  EXPECT_EQ(request.spec().name(), "web-1");
  EXPECT_EQ(request.spec().vcpus(), 2u);
  EXPECT_EQ(request.spec().memory_mib(), 256u);
  EXPECT_EQ(request.spec().backend(), v1::BACKEND_SIM);
  EXPECT_EQ(request.spec().sim_profile(), "intel-spr");
  EXPECT_EQ(request.spec().workload(), "counter");
  EXPECT_EQ(request.spec().labels_size(), 3);
  EXPECT_EQ(request.spec().labels().at("env"), "prod");
  EXPECT_EQ(request.spec().labels().at("team"), "x");
  EXPECT_EQ(request.spec().labels().at("tier"), "");
}

TEST_F(VmctlTest, CreateDefaults) {
  // Options may come before the name, and global options after the command.
  Result r = Run({"create", "--label", "k=v", "c", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::Vm vm;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &vm).ok())
      << r.out;
  EXPECT_EQ(vm.spec().name(), "c");

  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().create_requests.size(), 1u);
  const v1::CreateVmRequest& request = fake_.state().create_requests[0];
  EXPECT_EQ(request.spec().name(), "c");
  // Unset, so that vmd applies its defaults (vm.proto).
  EXPECT_EQ(request.spec().vcpus(), 0u);
  EXPECT_EQ(request.spec().memory_mib(), 0u);
  EXPECT_EQ(request.spec().backend(), v1::BACKEND_AUTO);
  EXPECT_EQ(request.spec().workload(), "");
  EXPECT_EQ(request.request_id(), "");
  EXPECT_EQ(request.spec().labels().at("k"), "v");
}

TEST_F(VmctlTest, UsageErrorsExitTwoAndSendNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"create", "c", "--label", "k"},
      {"create", "c", "--label", "=v"},
      {"create", "c", "--label", "a=1", "--label", "a=2"},
      {"create", "c", "--backend", "qemu"},
      {"create", "c", "--vcpus", "many"},
      {"create"},
      {"list", "--state", "runing"},
      {"list", "--page-size", "0"},
      {"frobnicate"},
      {},
      {"-o", "yaml", "host"},
  };
  for (const auto& args : bad) {
    Result r = Run(args);
    ::vmd::testing::ExpectUsageError(r, absl::StrJoin(args, " "));
  }
  EXPECT_EQ(CreateCalls(), 0);
  EXPECT_EQ(Run({"create", "c", "--label", "k"}).err,
            "vmctl: --label: label \"k\" must be key=value\n");
  EXPECT_EQ(Run({"create", "c", "--label", "a=1", "--label", "a=2"}).err,
            "vmctl: label key \"a\" given twice (\"1\" and \"2\")\n");
}

// Numbers that do not fit their flag are refused, naming the flag and the
// rule, instead of wrapping ("-1" as 2^64-1) or being cut (2^64).
TEST_F(VmctlTest, NumbersOutOfTheirFlagsRangeAreUsageErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"create", "c", "--memory-mib", "-1"},
       "vmctl: --memory-mib: must be a whole number 0..18446744073709551615, got \"-1\"\n"},
      {{"create", "c", "--vcpus", "-2"}, "vmctl: --vcpus: must be a whole number 0..4294967295, got \"-2\"\n"},
      {{"create", "c", "--vcpus", "4294967296"}, "vmctl: --vcpus: must be at most 4294967295, got 4294967296\n"},
      {{"console", "a", "--offset", "-5"},
       "vmctl: --offset: must be a whole number 0..18446744073709551615, got \"-5\"\n"},
      {{"events", "--after", "18446744073709551616"},
       "vmctl: --after: must be at most 18446744073709551615, got 18446744073709551616\n"},
      {{"stop", "a", "--timeout-ms", "-1"}, "vmctl: --timeout-ms: must be a whole number 0..4294967295, got \"-1\"\n"},
  };
  for (const auto& [args, message] : bad) {
    Result r = Run(args);
    ::vmd::testing::ExpectUsageError(r, absl::StrJoin(args, " "));
    EXPECT_EQ(r.err, message);
  }
  EXPECT_EQ(CreateCalls(), 0);
  // The largest values still pass.
  EXPECT_EQ(Run({"create", "c", "--vcpus", "4294967295", "--memory-mib", "18446744073709551615"}).exit_status, 0);
}

TEST_F(VmctlTest, HelpGoesToStdoutWithExitZero) {
  Result r = Run({"create", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("--memory-mib"));
  EXPECT_THAT(r.err, IsEmpty());
}

TEST_F(VmctlTest, ListPrintsATableOfAllVms) {
  Result r = Run({"list"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME   STATE     BACKEND   VCPUS   MEMORY   PID    AGE\n"
            "a      running   sim       1       128MiB   4242   3h\n"
            "b      stopped   auto      1       128MiB   -      10m\n");
}

TEST_F(VmctlTest, ListFetchesEveryPage) {
  Result r = Run({"list", "--page-size", "1"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3);
  absl::MutexLock lock(&fake_.state().mu);
  EXPECT_EQ(fake_.state().list_requests.size(), 2u);
}

TEST_F(VmctlTest, ListWithPageTokenFetchesOnePage) {
  Result r = Run({"list", "--page-size", "1", "--page-token", ""});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\na "));
  EXPECT_THAT(r.out, Not(HasSubstr("\nb ")));
  EXPECT_THAT(r.out, ::testing::EndsWith("next page token: 1\n"));

  r = Run({"list", "--page-size", "1", "--page-token", "1", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::ListVmsResponse page;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &page).ok());
  ASSERT_EQ(page.vms_size(), 1);
  EXPECT_EQ(page.vms(0).spec().name(), "b");
  EXPECT_EQ(page.next_page_token(), "");
}

TEST_F(VmctlTest, ListPassesFilters) {
  Result r = Run({"list", "--state", "running,paused", "--state", "CRASHED",
                  "--label", "env=prod"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\na "));
  EXPECT_THAT(r.out, Not(HasSubstr("\nb ")));
  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().list_requests.size(), 1u);
  const v1::ListVmsRequest& request = fake_.state().list_requests[0];
  EXPECT_THAT(request.states(),
              ElementsAre(v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED,
                          v1::VM_STATE_CRASHED));
  EXPECT_EQ(request.label_selector().at("env"), "prod");
  EXPECT_EQ(request.page_size(), 0);
}

TEST_F(VmctlTest, ListJsonIsAListVmsResponse) {
  Result r = Run({"-o", "json", "list"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::ListVmsResponse response;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(r.out, &response).ok())
      << r.out;
  ASSERT_EQ(response.vms_size(), 2);
  EXPECT_EQ(response.vms(0).spec().name(), "a");
  EXPECT_THAT(r.out, HasSubstr("\"nextPageToken\": \"\""));
  EXPECT_THAT(r.out, HasSubstr("\"state\": \"VM_STATE_RUNNING\""));
}

TEST_F(VmctlTest, StopSendsTimeoutAndForce) {
  Result r = Run({"stop", "a", "--timeout-ms", "5000", "--force",
                  "--request-id", "r1"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nstate:      stopped\n"));
  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().stop_requests.size(), 1u);
  EXPECT_EQ(fake_.state().stop_requests[0].timeout_ms(), 5000u);
  EXPECT_TRUE(fake_.state().stop_requests[0].force());
  EXPECT_EQ(fake_.state().stop_requests[0].request_id(), "r1");
}

TEST_F(VmctlTest, StartSendsTheRequestId) {
  Result r = Run({"start", "b", "--request-id", "r2"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nstate:      running\n"));
  absl::MutexLock lock(&fake_.state().mu);
  ASSERT_EQ(fake_.state().start_requests.size(), 1u);
  EXPECT_EQ(fake_.state().start_requests[0].request_id(), "r2");
}

TEST_F(VmctlTest, Delete) {
  Result r = Run({"delete", "b"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, "deleted: b\n");
  r = Run({"delete", "b", "-o", "json"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"b\" not found\n");
  r = Run({"delete", "a", "-o", "json"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_EQ(r.out, "{}\n");
}

TEST_F(VmctlTest, EventsPrintsOneLinePerEvent) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    for (uint64_t seq = 1; seq <= 3; ++seq) {
      v1::Event event;
      event.set_sequence(seq);
      event.set_type(v1::EVENT_TYPE_STATE_CHANGED);
      event.set_vm_name(seq == 2 ? "b" : "a");
      event.set_old_state(v1::VM_STATE_STARTING);
      event.set_new_state(v1::VM_STATE_RUNNING);
      event.set_message("up");
      fake_.state().events.push_back(event);
    }
  }
  // The fake ends the stream after the backlog, which ends vmctl.
  Result r = Run({"events", "--after", "1", "--vm", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "3      -                        a                    "
            "starting\u2192running  up\n");

  r = Run({"-o", "json", "events"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  std::vector<std::string> lines =
      absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u);
  for (size_t i = 0; i < lines.size(); ++i) {
    v1::Event event;
    ASSERT_TRUE(
        google::protobuf::util::JsonStringToMessage(lines[i], &event).ok())
        << lines[i];
    EXPECT_EQ(event.sequence(), i + 1);
  }
}

TEST_F(VmctlTest, ConsoleWritesRawBytes) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().consoles["a"] = std::string("boot\0ok\r\n\xff", 10);
  }
  Result r = Run({"console", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out, std::string("boot\0ok\r\n\xff", 10));

  r = Run({"console", "a", "--offset", "5"});
  EXPECT_EQ(r.out, std::string("ok\r\n\xff", 5));

  r = Run({"console", "nope"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"nope\" not found\n");
}

TEST_F(VmctlTest, Host) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    v1::HostInfo& info = fake_.state().host_info;
    info.set_version("0.1.0");
    info.set_auto_backend("kvm");
    info.mutable_limits()->set_max_vcpus(2);
    info.mutable_limits()->set_max_memory_mib(2048);
    v1::BackendInfo* kvm = info.add_backends();
    kvm->set_name("kvm");
    kvm->set_usable(true);
    info.add_sim_profiles()->set_name("generic");
    info.set_default_sim_profile("generic");
  }
  Result r = Run({"host"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "version:      0.1.0\n"
            "auto backend: kvm\n"
            "max vcpus:    2\n"
            "max memory:   2GiB\n"
            "backends:\n"
            "  kvm   usable\n"
            "sim profiles:\n"
            "  generic (default)\n");

  r = Run({"host", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::HostInfo info;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &info).ok());
  EXPECT_EQ(info.auto_backend(), "kvm");
}

}  // namespace
}  // namespace vmd::client

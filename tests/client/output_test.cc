#include "client/output.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace vmd::client {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

google::protobuf::Timestamp Seconds(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(nanos);
  return timestamp;
}

google::protobuf::Timestamp At(absl::Time time) {
  return Seconds(absl::ToUnixSeconds(time));
}

TEST(NamesTest, StatesAreLowerCaseWithoutPrefix) {
  EXPECT_EQ(StateName(v1::VM_STATE_RUNNING), "running");
  EXPECT_EQ(StateName(v1::VM_STATE_CRASHED), "crashed");
  EXPECT_EQ(StateName(v1::VM_STATE_UNSPECIFIED), "unspecified");
  EXPECT_EQ(StateName(static_cast<v1::VmState>(99)), "state-99");
}

TEST(NamesTest, BackendsAreLowerCaseAndUnspecifiedIsAuto) {
  EXPECT_EQ(BackendName(v1::BACKEND_KVM), "kvm");
  EXPECT_EQ(BackendName(v1::BACKEND_SIM), "sim");
  EXPECT_EQ(BackendName(v1::BACKEND_AUTO), "auto");
  EXPECT_EQ(BackendName(v1::BACKEND_UNSPECIFIED), "auto");
}

TEST(RenderTableTest, AlignsColumnsToTheWidestCell) {
  EXPECT_EQ(RenderTable({"NAME", "STATE"},
                        {{"a", "running"}, {"longer-name", "stopped"}}),
            "NAME          STATE\n"
            "a             running\n"
            "longer-name   stopped\n");
}

TEST(RenderTableTest, LeavesNoTrailingWhitespaceAndPadsShortRows) {
  EXPECT_EQ(RenderTable({"X", "Y", "Z"}, {{"a"}, {"bbb", "", "c"}}),
            "X     Y   Z\n"
            "a\n"
            "bbb       c\n");
}

TEST(RenderTableTest, CountsUtf8CodePointsNotBytes) {
  EXPECT_EQ(RenderTable({"A", "B"}, {{"\u2192x", "y"}}),
            "A    B\n"
            "\u2192x   y\n");
}

TEST(RenderTableTest, HeaderOnlyAndNoHeader) {
  EXPECT_EQ(RenderTable({"NAME", "STATE"}, {}), "NAME   STATE\n");
  EXPECT_EQ(RenderTable({}, {{"a", "b"}, {"cc", "d"}}),
            "a    b\n"
            "cc   d\n");
}

TEST(RenderKeyValuesTest, AlignsValuesAfterTheLongestKey) {
  EXPECT_EQ(RenderKeyValues({{"name", "a"}, {"state changed", "x"},
                             {"empty", ""}}),
            "name:          a\n"
            "state changed: x\n"
            "empty:\n");
}

TEST(FormatTest, Age) {
  EXPECT_EQ(FormatAge(absl::Seconds(-5)), "0s");
  EXPECT_EQ(FormatAge(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatAge(absl::Seconds(59)), "59s");
  EXPECT_EQ(FormatAge(absl::Seconds(60)), "1m");
  EXPECT_EQ(FormatAge(absl::Minutes(59) + absl::Seconds(59)), "59m");
  EXPECT_EQ(FormatAge(absl::Hours(1)), "1h");
  EXPECT_EQ(FormatAge(absl::Hours(47) + absl::Minutes(59)), "47h");
  EXPECT_EQ(FormatAge(absl::Hours(48)), "2d");
  EXPECT_EQ(FormatAge(absl::Hours(24 * 400)), "400d");
}

TEST(FormatTest, Memory) {
  EXPECT_EQ(FormatMemory(0), "0MiB");
  EXPECT_EQ(FormatMemory(128), "128MiB");
  EXPECT_EQ(FormatMemory(1024), "1GiB");
  EXPECT_EQ(FormatMemory(1536), "1536MiB");
  EXPECT_EQ(FormatMemory(65536), "64GiB");
}

TEST(FormatTest, TimestampIsUtcRfc3339) {
  EXPECT_EQ(FormatTimestamp(Seconds(1700000000, 999000000)),
            "2023-11-14T22:13:20Z");
  EXPECT_EQ(FormatTimestamp(Seconds(0)), "-");
}

v1::Vm TestVm() {
  v1::Vm vm;
  vm.set_id("id-web-1");
  v1::VmSpec& spec = *vm.mutable_spec();
  spec.set_name("web-1");
  spec.set_vcpus(2);
  spec.set_memory_mib(256);
  spec.set_backend(v1::BACKEND_AUTO);
  (*spec.mutable_labels())["team"] = "x";
  (*spec.mutable_labels())["env"] = "prod";
  v1::VmStatus& status = *vm.mutable_status();
  status.set_state(v1::VM_STATE_RUNNING);
  status.set_backend(v1::BACKEND_KVM);
  status.set_engine_pid(4242);
  *status.mutable_created_at() = Seconds(1700000000);
  *status.mutable_started_at() = Seconds(1700000060);
  return vm;
}

TEST(RenderVmTableTest, OneAlignedRowPerVm) {
  const absl::Time now = absl::FromUnixSeconds(1800000000);
  v1::Vm a = TestVm();
  a.mutable_spec()->set_name("a");
  a.mutable_spec()->set_memory_mib(1024);
  *a.mutable_status()->mutable_created_at() =
      At(now - absl::Hours(3) - absl::Minutes(30));
  v1::Vm bb;  // Not started: shows the requested backend.
  bb.mutable_spec()->set_name("bb");
  bb.mutable_spec()->set_vcpus(1);
  bb.mutable_spec()->set_memory_mib(128);
  bb.mutable_spec()->set_backend(v1::BACKEND_SIM);
  bb.mutable_status()->set_state(v1::VM_STATE_CREATED);
  *bb.mutable_status()->mutable_created_at() = At(now - absl::Seconds(45));
  v1::Vm c;  // No creation time, unspecified backend.
  c.mutable_spec()->set_name("c");
  c.mutable_spec()->set_vcpus(1);
  c.mutable_spec()->set_memory_mib(128);
  c.mutable_status()->set_state(v1::VM_STATE_STOPPED);

  EXPECT_EQ(RenderVmTable({a, bb, c}, now),
            "NAME   STATE     BACKEND   VCPUS   MEMORY   PID    AGE\n"
            "a      running   kvm       2       1GiB     4242   3h\n"
            "bb     created   sim       1       128MiB   -      45s\n"
            "c      stopped   auto      1       128MiB   -      -\n");
}

TEST(RenderVmTableTest, EmptyListIsTheHeader) {
  EXPECT_EQ(RenderVmTable({}, absl::Now()),
            "NAME   STATE   BACKEND   VCPUS   MEMORY   PID   AGE\n");
}

TEST(RenderVmTest, KeyValueLines) {
  EXPECT_EQ(RenderVm(TestVm()),
            "name:       web-1\n"
            "id:         id-web-1\n"
            "state:      running\n"
            "backend:    kvm\n"
            "vcpus:      2\n"
            "memory:     256MiB\n"
            "workload:   idle\n"
            "labels:     env=prod,team=x\n"
            "engine pid: 4242\n"
            "created:    2023-11-14T22:13:20Z\n"
            "started:    2023-11-14T22:14:20Z\n");
}

// The profile the engine reported (VmStatus.sim_profile) wins over the
// spec's, which is empty when the VM asked for the default.
TEST(RenderVmTest, SimProfileIsTheOneInUse) {
  v1::Vm vm = TestVm();
  vm.mutable_status()->set_backend(v1::BACKEND_SIM);
  vm.mutable_status()->set_sim_profile("intel-icelake-server");
  EXPECT_THAT(RenderVm(vm), HasSubstr("\nsim profile: intel-icelake-server\n"));
  vm.mutable_spec()->set_sim_profile("amd-zen4");
  vm.mutable_status()->clear_sim_profile();
  EXPECT_THAT(RenderVm(vm), HasSubstr("\nsim profile: amd-zen4\n"));
}

TEST(RenderVmTest, CrashedVmShowsErrorExitAndRegisters) {
  v1::Vm vm = TestVm();
  vm.mutable_spec()->clear_labels();
  vm.mutable_spec()->set_sim_profile("intel-spr");
  vm.mutable_spec()->set_workload("counter");
  v1::VmStatus& status = *vm.mutable_status();
  status.set_state(v1::VM_STATE_CRASHED);
  status.set_engine_pid(0);
  *status.mutable_state_changed_at() = Seconds(1700000120);
  status.set_last_error("engine died");
  status.mutable_exit()->set_code(-1);
  status.mutable_exit()->set_signal(9);
  status.mutable_exit()->set_reason("killed by signal 9 (Killed)");
  status.mutable_exit()->set_register_dump("rip=0x1000\nrsp=0x8000\n");

  const std::string text = RenderVm(vm);
  EXPECT_THAT(text, HasSubstr("\nstate:         crashed\n"));
  EXPECT_THAT(text, HasSubstr("\nworkload:      counter\n"));
  EXPECT_THAT(text, HasSubstr("\nsim profile:   intel-spr\n"));
  EXPECT_THAT(text, HasSubstr("\nlabels:        -\n"));
  EXPECT_THAT(text, HasSubstr("\nengine pid:    -\n"));
  EXPECT_THAT(text, HasSubstr("\nstate changed: 2023-11-14T22:15:20Z\n"));
  EXPECT_THAT(text, HasSubstr("\nlast error:    engine died\n"));
  EXPECT_THAT(text,
              HasSubstr("\nexit:          killed by signal 9 (Killed) "
                        "(code -1, signal 9)\n"));
  EXPECT_THAT(text, ::testing::EndsWith("register dump:\n"
                                      "  rip=0x1000\n"
                                      "  rsp=0x8000\n"));
}

TEST(RenderVmTest, OmitsUnsetOptionalLines) {
  const std::string text = RenderVm(TestVm());
  EXPECT_THAT(text, Not(HasSubstr("last error")));
  EXPECT_THAT(text, Not(HasSubstr("exit")));
  EXPECT_THAT(text, Not(HasSubstr("sim profile")));
  EXPECT_THAT(text, Not(HasSubstr("state changed")));
}

TEST(RenderEventTest, OneLineWithTransition) {
  v1::Event event;
  event.set_sequence(42);
  *event.mutable_time() = Seconds(1700000000, 123456789);
  event.set_type(v1::EVENT_TYPE_STATE_CHANGED);
  event.set_vm_name("web-1");
  event.set_old_state(v1::VM_STATE_CREATED);
  event.set_new_state(v1::VM_STATE_RUNNING);
  event.set_message("started");
  EXPECT_EQ(RenderEvent(event),
            "42     2023-11-14T22:13:20.123Z web-1                "
            "created\u2192running  started\n");
}

TEST(RenderEventTest, CreatedAndDeletedEventsHaveNoTrailingSpace) {
  v1::Event created;
  created.set_sequence(1);
  *created.mutable_time() = Seconds(1700000000);
  created.set_type(v1::EVENT_TYPE_CREATED);
  created.set_vm_name("a");
  created.set_new_state(v1::VM_STATE_CREATED);
  EXPECT_EQ(RenderEvent(created),
            "1      2023-11-14T22:13:20.000Z a                    "
            "-\u2192created\n");

  v1::Event deleted;
  deleted.set_sequence(1234567);
  deleted.set_type(v1::EVENT_TYPE_DELETED);
  deleted.set_vm_name("a");
  deleted.set_old_state(v1::VM_STATE_STOPPED);
  EXPECT_EQ(RenderEvent(deleted),
            "1234567 -                        a                    "
            "stopped\u2192deleted\n");
}

TEST(RenderHostInfoTest, ShowsEverything) {
  v1::HostInfo info;
  info.set_version("0.1.0");
  info.set_auto_backend("sim");
  info.mutable_limits()->set_max_vcpus(8);
  info.mutable_limits()->set_max_memory_mib(4096);
  v1::BackendInfo* kvm = info.add_backends();
  kvm->set_name("kvm");
  kvm->set_reason("/dev/kvm: permission denied");
  v1::BackendInfo* sim = info.add_backends();
  sim->set_name("sim");
  sim->set_usable(true);
  sim->set_max_vcpus(64);
  v1::SimProfile* spr = info.add_sim_profiles();
  spr->set_name("intel-spr");
  spr->set_description("Intel Sapphire Rapids");
  v1::SimProfile* zen = info.add_sim_profiles();
  zen->set_name("amd-zen4");
  zen->set_description("AMD Zen 4");
  info.set_default_sim_profile("intel-spr");

  EXPECT_EQ(RenderHostInfo(info),
            "version:      0.1.0\n"
            "auto backend: sim\n"
            "max vcpus:    8\n"
            "max memory:   4GiB\n"
            "backends:\n"
            "  kvm   unusable: /dev/kvm: permission denied\n"
            "  sim   usable (max 64 vcpus)\n"
            "sim profiles:\n"
            "  intel-spr (default)   Intel Sapphire Rapids\n"
            "  amd-zen4              AMD Zen 4\n");
}

TEST(RenderHostInfoTest, ShowsEachSandboxLayerAndWhyNot) {
  v1::HostInfo info;
  info.set_version("0.1.0");
  v1::EngineSandbox* sandbox = info.mutable_engine_sandbox();
  sandbox->set_enabled(true);
  v1::SandboxLayer* seccomp = sandbox->add_layers();
  seccomp->set_kind(v1::SANDBOX_LAYER_KIND_SECCOMP);
  seccomp->set_in_force(true);
  seccomp->set_detail("90 syscalls");
  v1::SandboxLayer* cgroup = sandbox->add_layers();
  cgroup->set_kind(v1::SANDBOX_LAYER_KIND_CGROUP);
  cgroup->set_reason("no memory controller");

  const std::string out = RenderHostInfo(info);
  EXPECT_NE(out.find("engine sandbox (on):\n"
                     "  seccomp   in force: 90 syscalls\n"
                     "  cgroup    not in force: no memory controller\n"),
            std::string::npos)
      << out;

  sandbox->set_enabled(false);
  EXPECT_NE(RenderHostInfo(info).find("engine sandbox (off: vmd --no-sandbox):"),
            std::string::npos);
}

TEST(ToJsonTest, PrettyJsonRoundTrips) {
  const v1::Vm vm = TestVm();
  absl::StatusOr<std::string> json = ToJson(vm, JsonStyle::kPretty);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(json->back(), '\n');
  EXPECT_GT(std::count(json->begin(), json->end(), '\n'), 5);
  v1::Vm parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(*json, &parsed).ok());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(vm, parsed));
}

TEST(ToJsonTest, UsesCanonicalNamesAndPrintsDefaults) {
  v1::Vm vm = TestVm();
  vm.mutable_status()->set_engine_pid(0);
  absl::StatusOr<std::string> json = ToJson(vm, JsonStyle::kLine);
  ASSERT_TRUE(json.ok()) << json.status();
  // One line, ending in a newline.
  EXPECT_EQ(std::count(json->begin(), json->end(), '\n'), 1);
  EXPECT_EQ(json->back(), '\n');
  EXPECT_THAT(*json, HasSubstr("\"memoryMib\":\"256\""));
  EXPECT_THAT(*json, HasSubstr("\"state\":\"VM_STATE_RUNNING\""));
  EXPECT_THAT(*json, HasSubstr("\"enginePid\":0"));
  EXPECT_THAT(*json, HasSubstr("\"lastError\":\"\""));
  EXPECT_THAT(*json, HasSubstr("\"createdAt\":\"2023-11-14T22:13:20Z\""));
}

TEST(ToJsonTest, EmptyListKeepsItsKeys) {
  absl::StatusOr<std::string> json =
      ToJson(v1::ListVmsResponse(), JsonStyle::kLine);
  ASSERT_TRUE(json.ok()) << json.status();
  EXPECT_EQ(*json,
            "{\"vms\":[],\"nextPageToken\":\"\",\"headSequence\":\"0\"}\n");
}

}  // namespace
}  // namespace vmd::client

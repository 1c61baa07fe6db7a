// The VM lifecycle in-process (VmdCore), with real vmd-engine processes on
// the sim backend: request_id idempotency, "an error changes nothing",
// listing and paging.
#include "daemon/core/vm_lifecycle.h"

#include "daemon/core/vmd_core.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "backend/cpu/host_profiles.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/grpc_status.h"

namespace vmd::daemon {
namespace {

v1::HostInfo SimHost() {
  v1::HostInfo host;
  auto* sim = host.add_backends();
  sim->set_name("sim");
  sim->set_usable(true);
  sim->set_max_vcpus(64);
  auto* kvm = host.add_backends();
  kvm->set_name("kvm");
  kvm->set_usable(false);
  kvm->set_reason("test host has no kvm");
  host.set_auto_backend("sim");
  host.mutable_limits()->set_max_vcpus(64);
  host.mutable_limits()->set_max_memory_mib(4096);
  host.add_sim_profiles()->set_name("intel-icelake-server");
  return host;
}

class VmLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-mgr-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Reopen();
  }
  void TearDown() override {
    // Stop what still runs so no engine outlives the test.
    absl::StatusOr<v1::ListVmsResponse> all = vms().ListVms(v1::ListVmsRequest());
    ASSERT_TRUE(all.ok());
    for (const v1::Vm& vm : all->vms()) {
      v1::StopVmRequest stop;
      stop.set_name(vm.spec().name());
      stop.set_force(true);
      (void)vms().StopVm(stop);
    }
    core_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    core_.reset();
    auto core = VmdCore::Open({.state_dir = dir_, .engine_path = VMD_ENGINE_PATH}, SimHost());
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
  }
  v1::CreateVmRequest Create(const std::string& name, const std::string& request_id = "") {
    v1::CreateVmRequest r;
    r.mutable_spec()->set_name(name);
    r.mutable_spec()->set_vcpus(1);
    r.mutable_spec()->set_memory_mib(32);
    r.set_request_id(request_id);
    return r;
  }
  std::vector<v1::Event> Events() {
    std::vector<v1::Event> out;
    (void)core_->records().events().Read(0, "", SIZE_MAX, &out);
    return out;
  }

  VmLifecycle& vms() { return core_->lifecycle(); }

  std::string dir_;
  std::unique_ptr<VmdCore> core_;
};

TEST_F(VmLifecycleTest, CreateRetriedWithTheSameRequestIdHappensOnce) {
  auto first = vms().CreateVm(Create("a", "req-1"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto retry = vms().CreateVm(Create("a", "req-1"));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->id(), first->id());
  EXPECT_EQ(Events().size(), 1u);
  // Without a request_id the same create is a conflict.
  EXPECT_EQ(vms().CreateVm(Create("a")).status().code(), absl::StatusCode::kAlreadyExists);
  // The record survives a restart.
  Reopen();
  auto after_restart = vms().CreateVm(Create("a", "req-1"));
  ASSERT_TRUE(after_restart.ok());
  EXPECT_EQ(after_restart->id(), first->id());
}

TEST_F(VmLifecycleTest, ARequestIdCannotBeReusedForAnotherRequest) {
  ASSERT_TRUE(vms().CreateVm(Create("a", "req-1")).ok());
  auto other = vms().CreateVm(Create("b", "req-1"));
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(other.status().message().find("request_id"), std::string::npos);
  EXPECT_FALSE(vms().GetVm("b").ok());
}

TEST_F(VmLifecycleTest, LifecycleRetriesDoNothingTwice) {
  ASSERT_TRUE(vms().CreateVm(Create("a")).ok());
  v1::StartVmRequest start;
  start.set_name("a");
  start.set_request_id("start-1");
  auto started = vms().StartVm(start);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_EQ(started->status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(started->status().backend(), v1::BACKEND_SIM);
  // The engine's default profile, which the spec left unset.
  EXPECT_EQ(started->status().sim_profile(), cpu::DefaultHostProfile().name);
  EXPECT_EQ(vms().GetVm("a")->status().sim_profile(), cpu::DefaultHostProfile().name);
  EXPECT_GT(started->status().engine_pid(), 0);
  size_t events = Events().size();
  auto retry = vms().StartVm(start);
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->status().engine_pid(), started->status().engine_pid());
  EXPECT_EQ(Events().size(), events) << "a retried start must not start again";

  v1::StopVmRequest stop;
  stop.set_name("a");
  stop.set_request_id("stop-1");
  auto stopped = vms().StopVm(stop);
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(stopped->status().state(), v1::VM_STATE_STOPPED);
  EXPECT_EQ(stopped->status().exit().reason(), "guest powered off");
  ASSERT_TRUE(vms().StopVm(stop).ok());

  v1::DeleteVmRequest del;
  del.set_name("a");
  del.set_request_id("delete-1");
  ASSERT_TRUE(vms().DeleteVm(del).ok());
  EXPECT_TRUE(vms().DeleteVm(del).ok()) << "a retried delete answers as the first did";
  del.set_request_id("");
  EXPECT_EQ(vms().DeleteVm(del).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(VmLifecycleTest, ErrorsChangeNothing) {
  v1::CreateVmRequest bad = Create("a", "req-bad");
  bad.mutable_spec()->set_memory_mib(1);
  EXPECT_EQ(vms().CreateVm(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Events().empty());
  // The failed request left no record: the id can be used for a good request.
  ASSERT_TRUE(vms().CreateVm(Create("a", "req-bad")).ok());

  v1::PauseVmRequest pause;
  pause.set_name("a");
  auto paused = vms().PauseVm(pause);
  EXPECT_EQ(paused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(paused.status().message().find("is created"), std::string::npos) << paused.status();
  EXPECT_EQ(vms().GetVm("a")->status().state(), v1::VM_STATE_CREATED);
  EXPECT_EQ(Events().size(), 1u);

  v1::CreateVmRequest kvm = Create("k");
  kvm.mutable_spec()->set_backend(v1::BACKEND_KVM);
  ASSERT_TRUE(vms().CreateVm(kvm).ok());
  v1::StartVmRequest start;
  start.set_name("k");
  auto refused = vms().StartVm(start);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("test host has no kvm"), std::string::npos);
  EXPECT_EQ(vms().GetVm("k")->status().state(), v1::VM_STATE_CREATED);
}

TEST_F(VmLifecycleTest, ListFiltersAndPages) {
  for (int i = 0; i < 25; ++i) {
    v1::CreateVmRequest r = Create("vm-" + std::to_string(100 + i));
    (*r.mutable_spec()->mutable_labels())["parity"] = i % 2 ? "odd" : "even";
    ASSERT_TRUE(vms().CreateVm(r).ok());
  }
  v1::ListVmsRequest list;
  list.set_page_size(10);
  (*list.mutable_label_selector())["parity"] = "even";
  std::vector<std::string> names;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 5);
    auto page = vms().ListVms(list);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::Vm& vm : page->vms()) names.push_back(vm.spec().name());
    if (page->next_page_token().empty()) break;
    list.set_page_token(page->next_page_token());
  }
  ASSERT_EQ(names.size(), 13u);
  EXPECT_EQ(names.front(), "vm-100");
  EXPECT_EQ(names.back(), "vm-124");
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));

  v1::ListVmsRequest by_state;
  by_state.add_states(v1::VM_STATE_RUNNING);
  absl::StatusOr<v1::ListVmsResponse> running = vms().ListVms(by_state);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->vms_size(), 0);
  v1::ListVmsRequest bad_token;
  bad_token.set_page_token("garbage");
  EXPECT_EQ(vms().ListVms(bad_token).status().code(), absl::StatusCode::kInvalidArgument);
}

// Protobuf 3.21's TimeUtil::GetCurrentTime() has whole seconds only; vmd's
// timestamps keep the nanoseconds.
TEST_F(VmLifecycleTest, TimestampsKeepNanoseconds) {
  int with_nanos = 0;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<v1::Vm> vm = vms().CreateVm(Create("vm-" + std::to_string(i)));
    ASSERT_TRUE(vm.ok()) << vm.status();
    with_nanos += vm->status().created_at().nanos() != 0;
    EXPECT_EQ(vm->status().created_at().nanos(), vm->status().state_changed_at().nanos());
  }
  EXPECT_GT(with_nanos, 0) << "five creates, all at a whole second";
  int events_with_nanos = 0;
  for (const v1::Event& e : Events()) events_with_nanos += e.time().nanos() != 0;
  EXPECT_GT(events_with_nanos, 0);
}

TEST_F(VmLifecycleTest, CreateFillsInTheDocumentedDefaults) {
  v1::CreateVmRequest bare;
  bare.mutable_spec()->set_name("bare");
  absl::StatusOr<v1::Vm> vm = vms().CreateVm(bare);
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ(vm->spec().vcpus(), 1u);
  EXPECT_EQ(vm->spec().memory_mib(), 256u);
  EXPECT_EQ(vm->spec().backend(), v1::BACKEND_AUTO);
  EXPECT_EQ(vm->spec().workload(), "idle");
}

// AIP-155: a request_id stands for one request; the same id with any other
// field changed is INVALID_ARGUMENT, for every mutating method, also after a
// restart (the fingerprint is stored with the record).
TEST_F(VmLifecycleTest, ARequestIdRetriedWithAnotherRequestIsRefused) {
  ASSERT_TRUE(vms().CreateVm(Create("a", "req-1")).ok());
  v1::CreateVmRequest bigger = Create("a", "req-1");
  bigger.mutable_spec()->set_vcpus(2);
  absl::Status refused = vms().CreateVm(bigger).status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  EXPECT_NE(refused.message().find("request_id: \"req-1\" was already used for another CreateVm request"),
            std::string::npos)
      << refused;
  std::optional<google::rpc::ErrorInfo> info = rpc::GetDetail<google::rpc::ErrorInfo>(refused);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "REQUEST_ID_REUSED");
  EXPECT_EQ(vms().GetVm("a")->spec().vcpus(), 1u);
  EXPECT_TRUE(vms().CreateVm(Create("a", "req-1")).ok()) << "the same request still replays";

  ASSERT_TRUE(vms().CreateVm(Create("d")).ok());
  v1::DeleteVmRequest del;
  del.set_name("d");
  del.set_request_id("del-1");
  ASSERT_TRUE(vms().DeleteVm(del).ok());
  v1::StopVmRequest stop;  // another method under the same id
  stop.set_name("d");
  stop.set_request_id("del-1");
  EXPECT_EQ(vms().StopVm(stop).status().code(), absl::StatusCode::kInvalidArgument);

  Reopen();
  EXPECT_EQ(vms().CreateVm(bigger).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(vms().CreateVm(Create("a", "req-1")).ok());
}

TEST_F(VmLifecycleTest, StopRetriedWithOtherOptionsIsRefused) {
  ASSERT_TRUE(vms().CreateVm(Create("a")).ok());
  v1::StartVmRequest start;
  start.set_name("a");
  ASSERT_TRUE(vms().StartVm(start).ok());
  v1::StopVmRequest stop;
  stop.set_name("a");
  stop.set_request_id("stop-1");
  stop.set_force(true);
  ASSERT_TRUE(vms().StopVm(stop).ok());
  stop.set_force(false);
  stop.set_timeout_ms(5000);
  EXPECT_EQ(vms().StopVm(stop).status().code(), absl::StatusCode::kInvalidArgument);
}

// Errors carry google.rpc details where they are made: BadRequest for a bad
// field, PreconditionFailure with the state for an illegal transition, and
// an ErrorInfo in vmd's domain on every error once it crosses the API edge.
TEST_F(VmLifecycleTest, ErrorsCarryTypedDetails) {
  v1::CreateVmRequest bad = Create("a");
  bad.mutable_spec()->set_memory_mib(1);
  absl::Status invalid = vms().CreateVm(bad).status();
  EXPECT_EQ(invalid.message(), "spec.memory_mib: must be at least 16, got 1");
  std::optional<google::rpc::BadRequest> bad_request = rpc::GetDetail<google::rpc::BadRequest>(invalid);
  ASSERT_TRUE(bad_request.has_value()) << invalid;
  ASSERT_EQ(bad_request->field_violations_size(), 1);
  EXPECT_EQ(bad_request->field_violations(0).field(), "spec.memory_mib");
  EXPECT_EQ(bad_request->field_violations(0).description(), "must be at least 16, got 1");
  EXPECT_EQ(rpc::GetDetail<google::rpc::ErrorInfo>(invalid)->reason(), "INVALID_FIELD");

  ASSERT_TRUE(vms().CreateVm(Create("a")).ok());
  v1::PauseVmRequest pause;
  pause.set_name("a");
  absl::Status illegal = vms().PauseVm(pause).status();
  std::optional<google::rpc::PreconditionFailure> failure = rpc::GetDetail<google::rpc::PreconditionFailure>(illegal);
  ASSERT_TRUE(failure.has_value()) << illegal;
  ASSERT_EQ(failure->violations_size(), 1);
  EXPECT_EQ(failure->violations(0).type(), "STATE");
  EXPECT_EQ(failure->violations(0).subject(), "vms/a");
  std::optional<google::rpc::ErrorInfo> info = rpc::GetDetail<google::rpc::ErrorInfo>(illegal);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason(), "VM_STATE");
  EXPECT_EQ(info->domain(), "vmd.dev");
  EXPECT_EQ(info->metadata().at("state"), "VM_STATE_CREATED");

  // A policy's own field paths under the spec's.
  v1::CreateVmRequest bad_policy = Create("p");
  v1::MsrRule* rule = bad_policy.mutable_spec()->mutable_msr_policy()->add_rules();
  rule->set_first(0x10);
  rule->set_access(v1::MSR_ACCESS_READ);
  rule->set_action(v1::MSR_ACTION_DENY);
  absl::Status policy_error = vms().CreateVm(bad_policy).status();
  EXPECT_EQ(policy_error.message(), "spec.msr_policy.rules[0].count: must be at least 1");
  ASSERT_TRUE(rpc::GetDetail<google::rpc::BadRequest>(policy_error).has_value());
  EXPECT_EQ(rpc::GetDetail<google::rpc::BadRequest>(policy_error)->field_violations(0).field(),
            "spec.msr_policy.rules[0].count");

  // Across the edge and back (a client's view): the same details, plus an
  // ErrorInfo on an error made without one.
  absl::Status back = rpc::ToAbslStatus(rpc::ToGrpcStatus(illegal));
  EXPECT_EQ(back, illegal);
  absl::Status plain = rpc::ToAbslStatus(rpc::ToGrpcStatus(absl::InternalError("disk on fire")));
  ASSERT_TRUE(rpc::GetDetail<google::rpc::ErrorInfo>(plain).has_value());
  EXPECT_EQ(rpc::GetDetail<google::rpc::ErrorInfo>(plain)->reason(), "INTERNAL");
  EXPECT_EQ(rpc::GetDetail<google::rpc::ErrorInfo>(plain)->domain(), "vmd.dev");
}

// User input an error quotes is cut and escaped: an 8 KB label key must not
// overflow the response metadata, a newline or an ANSI escape must not reach
// a terminal raw.
TEST_F(VmLifecycleTest, ErrorsQuoteInputCutAndEscaped) {
  v1::CreateVmRequest huge = Create("a");
  (*huge.mutable_spec()->mutable_labels())[std::string(8192, 'k') + "!"] = "v";
  absl::Status s = vms().CreateVm(huge).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_LT(s.message().size(), 300u) << s;
  EXPECT_NE(s.message().find("...\" (8193 bytes)]"), std::string::npos) << s;
  EXPECT_LT(rpc::ToGrpcStatus(s).error_details().size(), 1024u);

  v1::CreateVmRequest escape = Create("a");
  escape.mutable_spec()->set_workload("x\n\x1b[31mred");
  absl::Status e = vms().CreateVm(escape).status();
  EXPECT_EQ(e.message().find('\n'), std::string::npos) << e;
  EXPECT_EQ(e.message().find('\x1b'), std::string::npos) << e;
  EXPECT_NE(e.message().find("\"x\\n\\x1b[31mred\""), std::string::npos) << e;
}

// A list says which event it reflects, so that list-then-watch has no gap;
// the BASIC view (the default) leaves spec.msr_policy out.
TEST_F(VmLifecycleTest, ListCarriesTheHeadSequenceAndAView) {
  v1::CreateVmRequest with_policy = Create("a");
  v1::MsrRule* rule = with_policy.mutable_spec()->mutable_msr_policy()->add_rules();
  rule->set_first(0x10);
  rule->set_count(1);
  rule->set_access(v1::MSR_ACCESS_READ);
  rule->set_action(v1::MSR_ACTION_DENY);
  ASSERT_TRUE(vms().CreateVm(with_policy).ok());
  ASSERT_TRUE(vms().CreateVm(Create("b")).ok());
  absl::StatusOr<v1::ListVmsResponse> basic = vms().ListVms(v1::ListVmsRequest());
  ASSERT_TRUE(basic.ok());
  ASSERT_EQ(basic->vms_size(), 2);
  EXPECT_FALSE(basic->vms(0).spec().has_msr_policy());
  EXPECT_EQ(basic->head_sequence(), Events().back().sequence());
  v1::ListVmsRequest full;
  full.set_view(v1::VM_VIEW_FULL);
  EXPECT_TRUE(vms().ListVms(full)->vms(0).spec().has_msr_policy());
  EXPECT_TRUE(vms().GetVm("a")->spec().has_msr_policy()) << "GetVm is FULL";

  ASSERT_TRUE(vms().CreateVm(Create("c")).ok());
  std::vector<v1::Event> after;
  ASSERT_TRUE(core_->records().events().Read(basic->head_sequence(), "", SIZE_MAX, &after).ok());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].vm_name(), "c");
}

// 100 VMs with the largest MSR policies would make one FULL page of ~5 MB,
// past gRPC's 4 MB limit: pages end before 2 MiB instead.
TEST_F(VmLifecycleTest, ListPagesBySizeAsWellAsByCount) {
  v1::MsrPolicy policy;
  for (uint32_t i = 0; i < 4096; ++i) {
    v1::MsrRule* rule = policy.add_rules();
    rule->set_first(0x10000 + i);
    rule->set_count(1);
    rule->set_access(v1::MSR_ACCESS_READ_WRITE);
    rule->set_action(i % 2 ? v1::MSR_ACTION_DENY : v1::MSR_ACTION_ALLOW);
  }
  absl::StatusOr<v1::Vm> created = vms().CreateVm(Create("vm-000"));
  ASSERT_TRUE(created.ok());
  Mutation m;
  for (int i = 0; i < 100; ++i) {
    v1::Vm vm = *created;
    vm.set_id(absl::StrCat("id-", i));
    vm.mutable_spec()->set_name(absl::StrCat("vm-", 100 + i));
    *vm.mutable_spec()->mutable_msr_policy() = policy;
    m.put.push_back(std::move(vm));
  }
  ASSERT_TRUE(core_->records().Commit(m).ok());

  v1::ListVmsRequest full;
  full.set_view(v1::VM_VIEW_FULL);
  size_t listed = 0;
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 10);
    absl::StatusOr<v1::ListVmsResponse> page = vms().ListVms(full);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->ByteSizeLong(), size_t{2} << 20);
    listed += page->vms_size();
    if (page->next_page_token().empty()) break;
    full.set_page_token(page->next_page_token());
  }
  EXPECT_EQ(listed, 101u);
  EXPECT_GE(pages, 2);
  absl::StatusOr<v1::ListVmsResponse> basic = vms().ListVms(v1::ListVmsRequest());
  ASSERT_TRUE(basic.ok());
  EXPECT_EQ(basic->vms_size(), 100) << "BASIC pages by count only here";
  EXPECT_LT(basic->ByteSizeLong(), size_t{64} << 10);
}

}  // namespace
}  // namespace vmd::daemon

// The VM lifecycle in-process (VmdCore), with real vmd-engine processes on
// the sim backend: request_id idempotency, "an error changes nothing",
// listing and paging.
#include "daemon/core/vm_lifecycle.h"

#include "daemon/core/vmd_core.h"

#include <filesystem>

#include <gtest/gtest.h>

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
    (void)core_->records().events().Read(0, "", std::chrono::milliseconds(0), &out);
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
  bad.mutable_spec()->set_vcpus(0);
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

}  // namespace
}  // namespace vmd::daemon

// The daemon's operations against a fake engine (no processes): they drive
// the engine and commit what it did, a failing engine changes nothing, calls
// that drive an engine hold the VM's operation lock, each engine has one
// client, and adoption checks the engine's API version.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <gtest/gtest.h>

#include "daemon/core/vmd_core.h"
#include "daemon/engine/vm_paths.h"
#include "tests/fakes/fake_engine_client.h"

extern char** environ;

namespace vmd::daemon {
namespace {

using testing::FakeEngineClient;

v1::HostInfo SimHost() {
  v1::HostInfo host;
  v1::BackendInfo* sim = host.add_backends();
  sim->set_name("sim");
  sim->set_usable(true);
  sim->set_max_vcpus(64);
  host.set_auto_backend("sim");
  host.mutable_limits()->set_max_vcpus(64);
  host.mutable_limits()->set_max_memory_mib(4096);
  host.add_sim_profiles()->set_name("intel-icelake-server");
  host.set_default_sim_profile("intel-icelake-server");
  host.set_cpu_vendor("intel");
  return host;
}

class DaemonFakeEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-fake-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
  }
  void TearDown() override {
    core_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Open() {
    core_.reset();
    auto core = VmdCore::Open({.state_dir = dir_,
                               .engine_path = "/nonexistent/vmd-engine",
                               .engine_clients =
                                   [this](const std::string& socket) {
                                     ++clients_made_;
                                     return engines_[socket];
                                   }},
                              SimHost());
    ASSERT_TRUE(core.ok()) << core.status();
    core_ = *std::move(core);
  }
  // A VM recorded as running `workload` with an engine of `pid`, and the
  // fake that answers for it.
  std::shared_ptr<FakeEngineClient> RunningVm(const std::string& name, pid_t pid = 4242,
                                              const std::string& workload = "probe") {
    v1::CreateVmRequest create;
    create.mutable_spec()->set_name(name);
    create.mutable_spec()->set_vcpus(1);
    create.mutable_spec()->set_memory_mib(32);
    create.mutable_spec()->set_workload(workload);
    absl::StatusOr<v1::Vm> vm = core_->lifecycle().CreateVm(create);
    EXPECT_TRUE(vm.ok()) << vm.status();
    vm->mutable_status()->set_engine_pid(pid);
    Mutation running = StateChange(*vm, v1::VM_STATE_RUNNING, "test");
    EXPECT_TRUE(core_->records().Commit(running).ok());
    auto fake = std::make_shared<FakeEngineClient>();
    engines_[VmPaths(dir_, vm->id()).socket()] = fake;
    return fake;
  }
  v1::VmState State(const std::string& name) { return core_->lifecycle().GetVm(name)->status().state(); }

  std::string dir_;
  std::map<std::string, std::shared_ptr<FakeEngineClient>> engines_;
  std::atomic<int> clients_made_{0};
  std::unique_ptr<VmdCore> core_;
};

TEST_F(DaemonFakeEngineTest, PauseAndResumeDriveTheEngineAndAFailureChangesNothing) {
  std::shared_ptr<FakeEngineClient> engine = RunningVm("a");
  v1::PauseVmRequest pause;
  pause.set_name("a");
  engine->FailWith(absl::UnavailableError("engine: unreachable"));
  absl::StatusOr<v1::Vm> failed = core_->lifecycle().PauseVm(pause);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(State("a"), v1::VM_STATE_RUNNING);

  engine->FailWith(absl::OkStatus());
  pause.set_request_id("p1");
  ASSERT_TRUE(core_->lifecycle().PauseVm(pause).ok());
  EXPECT_EQ(State("a"), v1::VM_STATE_PAUSED);
  ASSERT_TRUE(core_->lifecycle().PauseVm(pause).ok()) << "a retry answers as the first did";
  v1::ResumeVmRequest resume;
  resume.set_name("a");
  ASSERT_TRUE(core_->lifecycle().ResumeVm(resume).ok());
  EXPECT_EQ(State("a"), v1::VM_STATE_RUNNING);
  EXPECT_EQ(engine->calls(), (std::vector<std::string>{"Pause", "Pause", "Resume"}));
}

TEST_F(DaemonFakeEngineTest, AProbeHoldsTheVmLockSoOtherOperationsWait) {
  std::shared_ptr<FakeEngineClient> engine = RunningVm("a");
  engine->HoldProbes();
  v1::RunProbeRequest probe;
  probe.set_name("a");
  probe.add_ops()->mutable_rdtsc();
  std::thread prober([&] { EXPECT_TRUE(core_->probes().RunProbe(probe).ok()); });
  while (!engine->probe_started()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::atomic<bool> paused{false};
  std::thread pauser([&] {
    v1::PauseVmRequest pause;
    pause.set_name("a");
    EXPECT_TRUE(core_->lifecycle().PauseVm(pause).ok());
    paused = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(paused) << "the pause went past a probe in progress";
  engine->Release();
  prober.join();
  pauser.join();
  EXPECT_EQ(engine->calls(), (std::vector<std::string>{"RunProbe", "Pause"}));
  // A paused VM runs no probe, and the engine is not asked.
  EXPECT_EQ(core_->probes().RunProbe(probe).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine->calls().size(), 2u);
}

TEST_F(DaemonFakeEngineTest, AnMsrPolicyIsInstalledOnTheEngineBeforeItIsCommitted) {
  std::shared_ptr<FakeEngineClient> engine = RunningVm("a");
  v1::SetMsrPolicyRequest set;
  set.set_name("a");
  set.set_preset("strict");
  engine->FailWith(absl::InternalError("engine: cannot install"));
  EXPECT_EQ(core_->msr().SetMsrPolicy(set).status().code(), absl::StatusCode::kInternal);
  EXPECT_FALSE(core_->lifecycle().GetVm("a")->spec().has_msr_policy()) << "nothing changed";
  engine->FailWith(absl::OkStatus());
  absl::StatusOr<v1::SetMsrPolicyResponse> done = core_->msr().SetMsrPolicy(set);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(core_->lifecycle().GetVm("a")->spec().msr_policy().preset(), "strict");
  EXPECT_EQ(engine->calls(), (std::vector<std::string>{"SetMsrPolicy", "SetMsrPolicy"}));
}

TEST_F(DaemonFakeEngineTest, EachEngineHasOneClientForItsWholeLife) {
  std::shared_ptr<FakeEngineClient> engine = RunningVm("a", /*pid=*/4242);
  v1::PauseVmRequest pause;
  pause.set_name("a");
  v1::ResumeVmRequest resume;
  resume.set_name("a");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(core_->lifecycle().PauseVm(pause).ok());
    ASSERT_TRUE(core_->lifecycle().ResumeVm(resume).ok());
  }
  EXPECT_EQ(clients_made_, 1) << "one channel per engine, not one per call";
  // Another engine of the same VM (a new pid) gets a client of its own.
  v1::Vm vm = *core_->lifecycle().GetVm("a");
  vm.mutable_status()->set_engine_pid(4343);
  core_->engine_clients().For(vm);
  EXPECT_EQ(clients_made_, 2);
}

// A process that looks like an engine of `config_path` to adoption (its
// command line names the config), for as long as the test needs.
pid_t SpawnLookalikeEngine(const std::string& config_path) {
  const char* argv[] = {"/bin/sh", "-c", "sleep 30", "sh", "--config", config_path.c_str(), nullptr};
  pid_t pid = -1;
  posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ);
  return pid;
}

TEST_F(DaemonFakeEngineTest, AdoptionLeavesAnEngineOfAnotherApiVersionRunningAndSaysWhy) {
  const std::string id = core_->lifecycle().CreateVm([] {
    v1::CreateVmRequest r;
    r.mutable_spec()->set_name("old");
    r.mutable_spec()->set_vcpus(1);
    r.mutable_spec()->set_memory_mib(32);
    return r;
  }()).value().id();
  const VmPaths paths(dir_, id);
  std::filesystem::create_directories(paths.dir);
  const pid_t pid = SpawnLookalikeEngine(paths.config());
  ASSERT_GT(pid, 0);
  v1::Vm vm = *core_->lifecycle().GetVm("old");
  vm.mutable_status()->set_engine_pid(pid);
  Mutation running = StateChange(vm, v1::VM_STATE_RUNNING, "test");
  ASSERT_TRUE(core_->records().Commit(running).ok());
  auto engine = std::make_shared<FakeEngineClient>();
  engine->set_api_version(static_cast<engine::v1::ApiVersion>(2));
  engines_[paths.socket()] = engine;

  Open();  // a vmd restart: adoption
  core_->WaitForAdoption();
  v1::Vm adopted = *core_->lifecycle().GetVm("old");
  EXPECT_EQ(adopted.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_NE(adopted.status().last_error().find("engine API version 2"), std::string::npos)
      << adopted.status().last_error();
  EXPECT_EQ(kill(pid, 0), 0) << "the engine of another version keeps running";

  // The same engine speaking this vmd's version is adopted and reconciled.
  engine->set_api_version(engine::v1::API_VERSION_1);
  engine->set_state(engine::v1::ENGINE_STATE_PAUSED);
  Open();
  core_->WaitForAdoption();
  EXPECT_EQ(State("old"), v1::VM_STATE_PAUSED) << "the engine's state wins after a restart";
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

}  // namespace
}  // namespace vmd::daemon

// vmd killed inside an operation (crash points, daemon/core/fault_points.h),
// then restarted: an engine spawned but not yet recorded is adopted (not
// doubled), a retried request with the same request_id answers with what
// took effect, engines no record owns are killed, and runtime dirs of
// deleted VMs are removed.
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

extern char** environ;

namespace vmd::testing {
namespace {

// The pids whose command line names `needle`, but exit monitors.
std::vector<pid_t> ProcessesNaming(const std::string& needle) {
  std::vector<pid_t> pids;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ifstream stat(entry.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const size_t paren = line.rfind(')');
    if (paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z') continue;
    std::ifstream comm_file(entry.path() / "comm");
    std::string comm;
    std::getline(comm_file, comm);
    if (comm == "vmd-engine-mon") continue;
    if (cmdline.find(needle) != std::string::npos) pids.push_back(std::stoi(name));
  }
  return pids;
}

class CrashWindowTest : public ::testing::Test {
 protected:
  v1::Vm Create(const std::string& name) {
    grpc::ClientContext ctx;
    v1::CreateVmRequest r;
    *r.mutable_spec() = SmallSpec(name, v1::BACKEND_SIM, "counter");
    v1::Vm vm;
    EXPECT_TRUE(vmd_.vms()->CreateVm(&ctx, r, &vm).ok());
    return vm;
  }
  grpc::Status Start(const std::string& name, const std::string& request_id, v1::Vm* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    v1::StartVmRequest r;
    r.set_name(name);
    r.set_request_id(request_id);
    return vmd_.vms()->StartVm(&ctx, r, out);
  }
  v1::Vm Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVmRequest r;
    r.set_name(name);
    v1::Vm vm;
    EXPECT_TRUE(vmd_.vms()->GetVm(&ctx, r, &vm).ok());
    return vm;
  }
  // Starts `name` with a crash point armed; vmd dies there.
  void StartAndCrashAt(const std::string& name, const std::string& point, const std::string& request_id) {
    vmd_.Kill(SIGTERM);
    vmd_.SetEnv("VMD_FAULT_CRASH_AT", point);
    vmd_.Start();
    v1::Vm ignored;
    EXPECT_FALSE(Start(name, request_id, &ignored).ok()) << "vmd should have died at " << point;
    const int status = vmd_.Wait();
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
    vmd_.SetEnv("VMD_FAULT_CRASH_AT", "");
  }
  std::string ConfigPath(const v1::Vm& vm) { return vmd_.state_dir() + "/vms/" + vm.id() + "/config.json"; }

  void SetUp() override { vmd_.Start(); }
  DaemonProcess vmd_;
};

// The failure path of a start (here: the runtime dir cannot be made, so no
// engine is spawned) names the VM and leaves it CRASHED with the reason. It
// once read the name through a spec that had been moved from; under the
// sanitizer build this test is what catches that class of bug.
TEST_F(CrashWindowTest, AStartThatCannotSpawnNamesTheVmAndLeavesItCrashed) {
  const v1::Vm vm = Create("cannot-start");
  std::filesystem::create_directories(vmd_.state_dir() + "/vms");
  std::ofstream(vmd_.state_dir() + "/vms/" + vm.id()) << "a file where the VM's directory goes";
  v1::Vm out;
  const grpc::Status s = Start("cannot-start", "", &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INTERNAL);
  EXPECT_EQ(s.error_message().rfind("vm \"cannot-start\": engine failed to start: ", 0), 0u) << s.error_message();
  const v1::Vm after = Get("cannot-start");
  EXPECT_EQ(after.status().state(), v1::VM_STATE_CRASHED);
  EXPECT_FALSE(after.status().last_error().empty());
}

TEST_F(CrashWindowTest, AnEngineSpawnedButNotRecordedIsAdoptedAndTheRetryAnswers) {
  const v1::Vm vm = Create("a");
  StartAndCrashAt("a", "start.after-spawn", "start-a");
  // The engine outlived vmd at its most fragile moment: its ready byte went
  // to a pipe nobody reads (SIGPIPE must not kill it).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(ProcessesNaming(ConfigPath(vm)).size(), 1u) << "the engine survived vmd";

  vmd_.Start();
  ASSERT_TRUE(WaitForState(vmd_.vms().get(), "a", v1::VM_STATE_RUNNING));
  const v1::Vm adopted = Get("a");
  EXPECT_EQ(ProcessesNaming(ConfigPath(vm)), std::vector<pid_t>{adopted.status().engine_pid()})
      << "adopted, and no second engine on the same runtime dir";
  v1::Vm retried;
  grpc::Status s = Start("a", "start-a", &retried);
  ASSERT_TRUE(s.ok()) << s.error_message() << ": the start took effect, so its retry answers";
  EXPECT_EQ(retried.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(retried.status().engine_pid(), adopted.status().engine_pid());
  v1::Vm again;
  ASSERT_TRUE(Start("a", "start-a", &again).ok()) << "and keeps answering";
  EXPECT_EQ(again.status().engine_pid(), adopted.status().engine_pid());
  // Without the request_id, a start of a running VM is refused as ever.
  EXPECT_EQ(Start("a", "", &again).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CrashWindowTest, AStartCutOffBeforeItsEngineRunsCanBeRetried) {
  const v1::Vm vm = Create("a");
  StartAndCrashAt("a", "start.after-intent", "start-a");
  EXPECT_TRUE(ProcessesNaming(ConfigPath(vm)).empty());
  vmd_.Start();
  const v1::Vm after = Get("a");
  EXPECT_EQ(after.status().state(), v1::VM_STATE_CRASHED);
  EXPECT_NE(after.status().last_error().find("was gone when vmd restarted"), std::string::npos)
      << after.status().last_error();
  v1::Vm retried;
  grpc::Status s = Start("a", "start-a", &retried);
  ASSERT_TRUE(s.ok()) << s.error_message() << ": the retry starts it for real";
  EXPECT_EQ(retried.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(ProcessesNaming(ConfigPath(vm)).size(), 1u);
}

TEST_F(CrashWindowTest, EnginesNoRecordOwnsAreKilledAndStaleDirsRemoved) {
  const v1::Vm vm = Create("a");
  v1::Vm running;
  ASSERT_TRUE(Start("a", "", &running).ok());
  vmd_.Kill(SIGKILL);
  // A second "engine" on the same runtime dir (what a doubled start made),
  // and the runtime dir of a VM whose delete vmd did not finish.
  const std::string config = ConfigPath(vm);
  const char* argv[] = {"/bin/sh", "-c", "sleep 60", "sh", "--config", config.c_str(), nullptr};
  pid_t orphan = -1;
  ASSERT_EQ(posix_spawn(&orphan, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ), 0);
  const std::string stale = vmd_.state_dir() + "/vms/0123456789abcdef";
  std::filesystem::create_directories(stale);

  vmd_.Start();
  int status = 0;
  ASSERT_EQ(waitpid(orphan, &status, 0), orphan);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the orphan was killed";
  // Recovery runs after vmd serves: the stale dir goes soon, not at once.
  for (int i = 0; i < 100 && std::filesystem::exists(stale); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_FALSE(std::filesystem::exists(stale));
  EXPECT_TRUE(std::filesystem::exists(vmd_.state_dir() + "/vms/" + vm.id())) << "a known VM's dir stays";
  const v1::Vm adopted = Get("a");
  EXPECT_EQ(adopted.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(adopted.status().engine_pid(), running.status().engine_pid()) << "the recorded engine was adopted";
}

TEST_F(CrashWindowTest, AnAdoptedEnginesExitIsExact) {
  Create("a");
  v1::Vm running;
  ASSERT_TRUE(Start("a", "", &running).ok());
  vmd_.Kill(SIGKILL);
  vmd_.Start();  // adopts the engine it did not start
  ASSERT_TRUE(WaitForState(vmd_.vms().get(), "a", v1::VM_STATE_RUNNING));
  ASSERT_EQ(kill(running.status().engine_pid(), SIGKILL), 0);
  ASSERT_TRUE(WaitForState(vmd_.vms().get(), "a", v1::VM_STATE_CRASHED));
  const v1::Vm crashed = Get("a");
  EXPECT_EQ(crashed.status().exit().signal(), SIGKILL) << "its exit monitor saw it: " << crashed.status().exit().reason();
  EXPECT_EQ(crashed.status().exit().code(), -1);
  EXPECT_NE(crashed.status().exit().reason().find("killed by signal 9"), std::string::npos)
      << crashed.status().exit().reason();
}

}  // namespace
}  // namespace vmd::testing

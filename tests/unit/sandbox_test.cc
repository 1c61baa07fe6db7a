// The engine's own sandbox layers (backend/engine/sandbox.h), each applied in
// a forked child exactly as vmd-engine's main applies them: a sim VM runs
// under the whole sandbox, and a syscall outside the allow-list kills the
// process with SIGSYS.
#include "backend/engine/sandbox.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/ioctl.h>
#include <grp.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "backend/engine/sandbox_probe.h"
#include "backend/engine/vm_runner.h"
#include "tests/engine_test_config.h"

namespace vmd::engine {
namespace {

using std::chrono::milliseconds;

// Child exit codes that say which step failed.
constexpr int kChildOk = 0;
constexpr int kSandboxFailed = 10;
constexpr int kVmFailed = 11;
constexpr int kNoProgress = 12;
constexpr int kForbiddenReturned = 13;
constexpr int kCheckFailed = 14;

// Runs `body` in a forked child (single-threaded, as the engine is when it
// enters the sandbox) and returns its wait status.
int RunInChild(const std::function<int()>& body) {
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::string Describe(int status) {
  if (WIFSIGNALED(status)) return "killed by signal " + std::to_string(WTERMSIG(status));
  return "exited " + std::to_string(WEXITSTATUS(status));
}

std::string ProcStatusField(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", field.size() + 1));
  }
  return "";
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-sandbox-XXXXXX";
    dir_ = mkdtemp(tmpl);
    // What vmd asks for; without root only what an unprivileged process can.
    const bool root = geteuid() == 0;
    sandbox_.set_no_new_privs(true);
    sandbox_.set_mount_namespace(root);
    sandbox_.set_drop_capabilities(root);
    sandbox_.set_seccomp(true);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // The engine's main, in a child: enter, build a sim VM running the
  // counter (or restored, with `restore_from`), lock, start; then `after`
  // with the VM running.
  int RunSandboxedVm(const std::function<int(VmRunner&)>& after, const std::string& restore_from = "",
                     const std::string& backend = "sim") {
    return RunInChild([&] {
      EngineConfig config = testing::TestEngineConfig(backend, "counter", dir_);
      *config.mutable_sandbox() = sandbox_;
      if (!restore_from.empty()) config.mutable_restore()->set_snapshot_dir(restore_from);
      if (!EnterSandbox(config.sandbox(), MountsFor(config)).ok()) return kSandboxFailed;
      auto runner = VmRunner::Create(config);
      if (!runner.ok()) return kVmFailed;
      if (!LockSandbox(config.sandbox()).ok()) return kSandboxFailed;
      if (!(*runner)->Start().ok()) return kVmFailed;
      // The counter moves: the vCPU loop lives within the allow-list.
      bool moved = false;
      for (int i = 0; i < 500 && !moved; ++i) {
        std::this_thread::sleep_for(milliseconds(10));
        moved = (*runner)->Status().guest_counter > 0;
      }
      if (!moved) return kNoProgress;
      return after(**runner);
    });
  }

  // SaveState after the filter is in (the kvm backend reads every vCPU's
  // and the VM's state through the GET ioctls), below the runtime dir, the
  // one writable place; then a clone restored from it, sandboxed too.
  void SaveAndRestore(const std::string& backend) {
    const std::string snap = dir_ + "/snap";
    std::filesystem::create_directory(snap);
    int status = RunSandboxedVm(
        [&](VmRunner& runner) {
          if (!runner.Pause().ok()) return kVmFailed;
          return runner.SaveState(snap).ok() ? kChildOk : kCheckFailed;
        },
        "", backend);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
    status = RunSandboxedVm(
        [](VmRunner& runner) {
          absl::StatusOr<bool> stopped = runner.Stop(milliseconds(2000), /*force=*/true);
          runner.WaitUntilDone();
          return stopped.ok() ? kChildOk : kVmFailed;
        },
        snap, backend);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
  }

  std::string dir_;
  v1::SandboxConfig sandbox_;
};

TEST_F(SandboxTest, SandboxedVmRunsAndStops) {
  const int status = RunSandboxedVm([](VmRunner& runner) {
    absl::StatusOr<bool> stopped = runner.Stop(milliseconds(2000), /*force=*/false);
    runner.WaitUntilDone();
    return stopped.ok() ? kChildOk : kVmFailed;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
}

TEST_F(SandboxTest, SaveStateAndRestoreWorkInsideTheSandboxOnSim) { SaveAndRestore("sim"); }

TEST_F(SandboxTest, SaveStateAndRestoreWorkInsideTheSandboxOnKvm) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "no usable /dev/kvm";
  SaveAndRestore("kvm");
}

TEST_F(SandboxTest, PtraceKillsTheEngineWithSigsys) {
  const int status = RunSandboxedVm([](VmRunner&) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    return kForbiddenReturned;
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << Describe(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(SandboxTest, MountKillsTheEngineWithSigsys) {
  const int status = RunSandboxedVm([](VmRunner&) {
    mount("none", "/mnt", "tmpfs", 0, nullptr);
    return kForbiddenReturned;
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << Describe(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(SandboxTest, ForbiddenIoctlKillsTheEngine) {
  // An ioctl request number the list does not name (TIOCSTI: push a byte
  // into a terminal's input), on any fd.
  const int status = RunSandboxedVm([](VmRunner&) {
    char c = 'x';
    ioctl(0, TIOCSTI, &c);
    return kForbiddenReturned;
  });
  ASSERT_TRUE(WIFSIGNALED(status)) << Describe(status);
  EXPECT_EQ(WTERMSIG(status), SIGSYS);
}

TEST_F(SandboxTest, NoNewPrivsAndSeccompShowInProcStatus) {
  const int status = RunInChild([&] {
    if (!EnterSandbox(sandbox_, {.writable = {dir_}}).ok() || !LockSandbox(sandbox_).ok()) return kSandboxFailed;
    return ProcStatusField("NoNewPrivs") == "1" && ProcStatusField("Seccomp") == "2" ? kChildOk : kCheckFailed;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
}

TEST_F(SandboxTest, DropAllCapabilitiesEmptiesEverySet) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SETPCAP) to drop the bounding set";
  const int status = RunInChild([] {
    if (!DropAllCapabilities().ok()) return kSandboxFailed;
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) {
      if (ProcStatusField(set) != "0000000000000000") return kCheckFailed;
    }
    return kChildOk;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
}

TEST_F(SandboxTest, MountNamespaceLeavesOnlyTheWritableDirsWritable) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for a mount namespace";
  char other_tmpl[] = "/tmp/vmd-sandbox-other-XXXXXX";
  const std::string other = mkdtemp(other_tmpl);
  const int status = RunInChild([&] {
    if (!EnterPrivateMountNamespace({.writable = {dir_}}).ok()) return kSandboxFailed;
    const int inside = open((dir_ + "/written").c_str(), O_WRONLY | O_CREAT, 0600);
    const int outside = open((other + "/written").c_str(), O_WRONLY | O_CREAT, 0600);
    const int outside_errno = errno;
    if (inside < 0) return kCheckFailed;
    if (outside >= 0 || outside_errno != EROFS) return kCheckFailed + 1;
    // A device node on a read-only mount still opens read-write.
    if (open("/dev/null", O_RDWR) < 0) return kCheckFailed + 2;
    return kChildOk;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
  // Nothing of the child's namespace reached ours.
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/written"));
  const int fd = open((other + "/mine").c_str(), O_WRONLY | O_CREAT, 0600);
  EXPECT_GE(fd, 0) << "the host's mounts became read-only";
  if (fd >= 0) close(fd);
  std::filesystem::remove_all(other);
}

TEST_F(SandboxTest, HiddenDirShowsOnlyWhatIsPutBack) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root (CAP_SYS_ADMIN) for a mount namespace";
  // Laid out like vmd's state dir: a store, another VM's files, ours.
  const std::string state = dir_ + "/state";
  std::filesystem::create_directories(state + "/vms/mine");
  std::filesystem::create_directories(state + "/vms/other");
  std::filesystem::create_directories(state + "/snapshots/s1");
  std::ofstream(state + "/vmd.db") << "store";
  std::ofstream(state + "/vms/other/console.log") << "someone else's";
  std::ofstream(state + "/snapshots/s1/state.pb") << "saved";
  const int status = RunInChild([&] {
    if (!EnterPrivateMountNamespace(
             {.writable = {state + "/vms/mine"}, .readable = {state + "/snapshots/s1"}, .hidden = {state}})
             .ok()) {
      return kSandboxFailed;
    }
    if (access((state + "/vmd.db").c_str(), F_OK) == 0) return kCheckFailed;
    if (access((state + "/vms/other/console.log").c_str(), F_OK) == 0) return kCheckFailed + 1;
    const int mine = open((state + "/vms/mine/exit.json").c_str(), O_WRONLY | O_CREAT, 0600);
    if (mine < 0) return kCheckFailed + 2;
    if (access((state + "/snapshots/s1/state.pb").c_str(), R_OK) != 0) return kCheckFailed + 3;
    const int snapshot = open((state + "/snapshots/s1/new").c_str(), O_WRONLY | O_CREAT, 0600);
    if (snapshot >= 0 || errno != EROFS) return kCheckFailed + 4;
    // The cover itself is read-only too.
    if (mkdir((state + "/planted").c_str(), 0700) == 0 || errno != EROFS) return kCheckFailed + 5;
    return kChildOk;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
  EXPECT_TRUE(std::filesystem::exists(state + "/vms/mine/exit.json"));
  EXPECT_TRUE(std::filesystem::exists(state + "/vmd.db")) << "the host's files went";
}

}  // namespace
}  // namespace vmd::engine

namespace vmd::engine {
namespace {

// The host probe's trial, as root (every layer) and as nobody: without
// privileges no mount namespace and no capability drop, but still
// no_new_privs and seccomp, which vmd then asks for.
TEST(SandboxProbeTest, EachLayerOnItsOwn) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to compare with an unprivileged trial";
  for (const vmd::v1::SandboxLayer& layer : ProbeSandboxLayers()) {
    EXPECT_TRUE(layer.in_force()) << vmd::v1::SandboxLayerKind_Name(layer.kind()) << ": " << layer.reason();
  }
  const int status = RunInChild([] {
    constexpr uid_t kNobody = 65534;
    if (setgroups(0, nullptr) != 0 || setresgid(kNobody, kNobody, kNobody) != 0 ||
        setresuid(kNobody, kNobody, kNobody) != 0) {
      return kSandboxFailed;
    }
    int code = kChildOk;
    for (const vmd::v1::SandboxLayer& layer : ProbeSandboxLayers()) {
      const bool expected = layer.kind() == vmd::v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS ||
                            layer.kind() == vmd::v1::SANDBOX_LAYER_KIND_SECCOMP;
      if (layer.in_force() != expected || (!expected && layer.reason().empty())) code = kCheckFailed;
    }
    return code;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == kChildOk) << Describe(status);
}

}  // namespace
}  // namespace vmd::engine

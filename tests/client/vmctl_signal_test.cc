// The vmctl binary and signals: Ctrl-C (SIGINT) or SIGTERM ends a followed
// stream cleanly with exit status 0 and cancels the call on the daemon; it
// ends any other command at once with 128 + signal.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/client/fake_vmd.h"

extern char** environ;

namespace vmd::client {
namespace {

using ::vmd::testing::FakeState;
using ::vmd::testing::FakeVmd;
using ::vmd::testing::MakeVm;
using ::vmd::testing::StreamMode;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class VmctlSignalTest : public ::testing::Test {
 protected:
  VmctlSignalTest()
      // Unique per process: ctest runs tests in parallel processes.
      : out_path_(absl::StrCat(::testing::TempDir(), "vmctl_signal_test.",
                               getpid(), ".out")),
        err_path_(absl::StrCat(::testing::TempDir(), "vmctl_signal_test.",
                               getpid(), ".err")) {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().vms["a"] =
        MakeVm("a", v1::VM_STATE_RUNNING, absl::Now());
  }

  ~VmctlSignalTest() override {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    unlink(out_path_.c_str());
    unlink(err_path_.c_str());
  }

  // Starts vmctl --address <fake> <args...> with stdout and stderr to files
  // and the default action for SIGINT and SIGTERM (whatever ours are).
  void Spawn(const std::vector<std::string>& args) {
    std::vector<std::string> strings = {VMCTL_PATH, "--address",
                                        fake_.address()};
    strings.insert(strings.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& s : strings) argv.push_back(s.data());
    argv.push_back(nullptr);

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attributes, &none);
    posix_spawnattr_setflags(&attributes,
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    ASSERT_EQ(posix_spawn(&pid_, VMCTL_PATH, &actions, &attributes,
                          argv.data(), environ),
              0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
  }

  // The wait status, or -1 if vmctl is still running after `timeout`.
  int WaitForExit(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return -1;
  }

  // Waits until vmctl has written `text` to stdout.
  bool WaitForOutput(const std::string& text) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (ReadFile(out_path_).find(text) != std::string::npos) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  FakeVmd fake_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
};

TEST_F(VmctlSignalTest, InterruptEndsEventsWithExitZero) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    v1::Event event;
    event.set_sequence(7);
    event.set_vm_name("a");
    event.set_new_state(v1::VM_STATE_RUNNING);
    fake_.state().events.push_back(event);
    fake_.state().stream_mode = StreamMode::kHoldOpen;
  }
  Spawn({"events"});
  // Once the event is out, vmctl is inside the open stream.
  ASSERT_TRUE(WaitForOutput("7 "));
  kill(pid_, SIGINT);
  const int status = WaitForExit(absl::Seconds(10));
  ASSERT_NE(status, -1) << "vmctl did not end on SIGINT";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadFile(err_path_), "");
  EXPECT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.cancelled_calls == 1; },
      absl::Seconds(10)));
}

TEST_F(VmctlSignalTest, TerminateEndsFollowedConsoleWithExitZero) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().consoles["a"] = "ready\n";
  }
  Spawn({"console", "a", "--follow"});
  ASSERT_TRUE(WaitForOutput("ready\n"));
  kill(pid_, SIGTERM);
  const int status = WaitForExit(absl::Seconds(10));
  ASSERT_NE(status, -1) << "vmctl did not end on SIGTERM";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(ReadFile(out_path_), "ready\n");
  EXPECT_EQ(ReadFile(err_path_), "");
}

TEST_F(VmctlSignalTest, InterruptEndsAUnaryCallWith130) {
  Spawn({"pause", "a"});  // The fake never answers PauseVm.
  ASSERT_TRUE(fake_.WaitFor(
      [](const FakeState& s) { return s.pause_calls == 1; },
      absl::Seconds(10)));
  kill(pid_, SIGINT);
  const int status = WaitForExit(absl::Seconds(10));
  ASSERT_NE(status, -1) << "vmctl did not end on SIGINT";
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 128 + SIGINT);
}

}  // namespace
}  // namespace vmd::client

#include "daemon/engine/engine_spawn.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vmd::daemon {
namespace {

// Above every fd the child moves into place, so that no dup2 clobbers a
// source it still needs.
constexpr int kHighFd = 10;

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const std::string& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The child's errno to the parent, and the child's end.
[[noreturn]] void ReportErrnoAndExit(int error_fd) {
  int err = errno;
  (void)!write(error_fd, &err, sizeof(err));
  _exit(127);
}

// The child, between clone3 and execve. A copy of a multithreaded process:
// only async-signal-safe calls (no allocation, no locks) until execve.
// Reports errno through `error_fd` (close-on-exec: silence means success).
[[noreturn]] void ExecEngine(const EngineProcessSpec& spec, char* const* argv, char* const* envp, int error_fd) {
  auto fail = [error_fd] { ReportErrnoAndExit(error_fd); };
  // vmd's handlers mean nothing here, and ignored signals (gRPC ignores
  // SIGPIPE) would stay ignored across execve.
  struct sigaction dfl = {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // EINVAL for SIGKILL/SIGSTOP/internal ones
  if (setsid() < 0) fail();
  const int out = fcntl(spec.output_fd, F_DUPFD_CLOEXEC, kHighFd);
  const int ready = fcntl(spec.ready_fd, F_DUPFD_CLOEXEC, kHighFd);
  const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || ready < 0 || null < 0) fail();
  // dup2 clears close-on-exec on the copies.
  if (dup2(null, 0) < 0 || dup2(out, 1) < 0 || dup2(out, 2) < 0 || dup2(ready, kEngineReadyFd) < 0) fail();
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  execve(spec.path.c_str(), argv, envp);
  ReportErrnoAndExit(error_fd);
}

}  // namespace

absl::StatusOr<pid_t> SpawnEngineProcess(const EngineProcessSpec& spec) {
  const std::vector<char*> argv = Pointers(spec.argv);
  const std::vector<char*> envp = Pointers(spec.env);
  int error_pipe[2];
  if (pipe2(error_pipe, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");

  clone_args args = {};
  args.exit_signal = SIGCHLD;
  if (spec.cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(spec.cgroup_fd);
  }
  // No signal may run a handler of vmd's in the child before it resets them.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  const long pid = syscall(SYS_clone3, &args, sizeof(args));
  if (pid == 0) {
    close(error_pipe[0]);
    ExecEngine(spec, argv.data(), envp.data(), error_pipe[1]);
  }
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  close(error_pipe[1]);
  if (pid < 0) {
    close(error_pipe[0]);
    return absl::ErrnoToStatus(clone_errno, spec.cgroup_fd >= 0 ? "clone3 into the engine's cgroup" : "clone3");
  }
  int child_errno = 0;
  ssize_t n;
  do {
    n = read(error_pipe[0], &child_errno, sizeof(child_errno));
  } while (n < 0 && errno == EINTR);
  close(error_pipe[0]);
  if (n == sizeof(child_errno)) {
    waitpid(static_cast<pid_t>(pid), nullptr, 0);
    return absl::ErrnoToStatus(child_errno, absl::StrCat("start ", spec.path));
  }
  return static_cast<pid_t>(pid);
}

}  // namespace vmd::daemon

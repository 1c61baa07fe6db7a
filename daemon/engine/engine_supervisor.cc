#include "daemon/engine/engine_supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/rpc/proto_json.h"
#include "daemon/engine/engine_cgroup.h"
#include "daemon/engine/engine_spawn.h"
#include "vmd/engine/v1/exit_record.pb.h"

extern char** environ;

namespace vmd::daemon {
namespace {

// Exits kept for WaitForExit; older ones are forgotten.
constexpr size_t kRememberedExits = 4096;
// epoll data of the wake-up eventfd; every other entry carries a pid.
constexpr uint64_t kWakeToken = ~uint64_t{0};
// How long a spawned engine has to say its pid.
constexpr std::chrono::milliseconds kPidTimeout{5000};

int PidfdOpen(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

size_t CountEnviron() {
  size_t n = 0;
  while (environ[n] != nullptr) ++n;
  return n;
}

}  // namespace

std::string EngineExit::Describe() const {
  if (!known) return "exit status unknown (its exit monitor left no record)";
  if (signal != 0) return absl::StrCat("killed by signal ", signal, " (", strsignal(signal), ")");
  return absl::StrCat("exited with code ", code);
}

EngineSupervisor::EngineSupervisor(std::string engine_path, ExitCallback on_exit)
    : engine_path_(std::move(engine_path)), on_exit_(std::move(on_exit)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = kWakeToken}};
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  reaper_ = std::thread(&EngineSupervisor::ReapLoop, this);
}

EngineSupervisor::~EngineSupervisor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  reaper_.join();
  {
    std::unique_lock lock(mu_);
    callbacks_done_.wait(lock, [&] { return callbacks_running_ == 0; });
  }
  for (auto& [pid, w] : watched_) close(w.pidfd);
  close(wake_fd_);
  close(epoll_fd_);
}

absl::StatusOr<pid_t> EngineSupervisor::Spawn(const EngineSpawnOptions& options, int* ready_fd) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  int log_fd = open(options.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (log_fd < 0) {
    int err = errno;
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return absl::ErrnoToStatus(err, absl::StrCat("open engine log ", options.log_path));
  }
  EngineProcessSpec spec = {
      .path = engine_path_,
      .argv = {engine_path_, "--exit-status-file", options.exit_status_path, "--config", options.config_path,
               "--ready-fd", std::to_string(kEngineReadyFd)},
      .env = options.env.value_or(std::vector<std::string>(environ, environ + CountEnviron())),
      .output_fd = log_fd,
      .ready_fd = pipe_fds[1],
      .cgroup_fd = options.cgroup_fd,
  };
  absl::StatusOr<pid_t> monitor = SpawnEngineProcess(spec);
  close(log_fd);
  close(pipe_fds[1]);
  if (!monitor.ok()) {
    close(pipe_fds[0]);
    return monitor.status();
  }
  // The monitor is vmd's child: watched only to be reaped.
  if (absl::Status s = Watch(*monitor, {options.tag, -1, /*monitor=*/true, "", ""}); !s.ok()) {
    close(pipe_fds[0]);
    kill(*monitor, SIGKILL);
    return s;
  }
  // The engine, the monitor's child, says its pid first.
  pollfd p{.fd = pipe_fds[0], .events = POLLIN};
  int32_t engine = 0;
  int n;
  do {
    n = poll(&p, 1, static_cast<int>(kPidTimeout.count()));
  } while (n < 0 && errno == EINTR);
  if (n != 1 || read(pipe_fds[0], &engine, sizeof(engine)) != static_cast<ssize_t>(sizeof(engine)) || engine <= 0) {
    close(pipe_fds[0]);
    Kill(*monitor, SIGKILL);
    return absl::AbortedError(absl::StrCat("the engine did not start (see ", options.log_path, ")"));
  }
  if (absl::Status s =
          Watch(engine, {options.tag, -1, /*monitor=*/false, options.exit_status_path, options.cgroup_path});
      !s.ok()) {
    close(pipe_fds[0]);
    kill(engine, SIGKILL);
    return s;
  }
  *ready_fd = pipe_fds[0];
  return engine;
}

absl::Status EngineSupervisor::WaitReady(pid_t pid, int ready_fd, std::chrono::milliseconds timeout) {
  pollfd p{.fd = ready_fd, .events = POLLIN};
  int n;
  do {
    n = poll(&p, 1, static_cast<int>(timeout.count()));
  } while (n < 0 && errno == EINTR);
  char byte = 0;
  bool ready = n == 1 && read(ready_fd, &byte, 1) == 1;
  close(ready_fd);
  if (ready) return absl::OkStatus();
  if (n == 0) {
    Kill(pid, SIGKILL);
    return absl::DeadlineExceededError(absl::StrCat("engine not ready after ", timeout.count(), " ms; killed"));
  }
  return absl::AbortedError("engine exited before it was ready");
}

absl::Status EngineSupervisor::Adopt(const std::string& tag, pid_t pid, const std::string& exit_status_path,
                                     const std::string& cgroup_path) {
  return Watch(pid, {tag, -1, /*monitor=*/false, exit_status_path, cgroup_path});
}

absl::Status EngineSupervisor::Watch(pid_t pid, Watched watched) {
  int pidfd = PidfdOpen(pid);
  if (pidfd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("pidfd_open ", pid));
  watched.pidfd = pidfd;
  std::lock_guard lock(mu_);
  exits_.erase(pid);  // a reused pid's old exit
  watched_[pid] = std::move(watched);
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = static_cast<uint64_t>(pid)}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, pidfd, &ev) != 0) {
    watched_.erase(pid);
    close(pidfd);
    return absl::ErrnoToStatus(errno, "epoll_ctl");
  }
  return absl::OkStatus();
}

EngineExit EngineSupervisor::ReadExit(pid_t pid, const std::string& exit_status_path) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    std::ifstream in(exit_status_path);
    std::stringstream text;
    text << in.rdbuf();
    engine::v1::ProcessExit record;
    if (in && rpc::FromJson(text.str(), &record).ok() && record.pid() == pid) {
      return {.known = true, .code = record.code(), .signal = record.signal()};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return {};
}

void EngineSupervisor::ReapLoop() {
  for (;;) {
    epoll_event events[16];
    int n = epoll_wait(epoll_fd_, events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mu_);
    if (stopping_) return;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeToken) continue;
      pid_t pid = static_cast<pid_t>(events[i].data.u64);
      auto it = watched_.find(pid);
      if (it == watched_.end()) continue;
      Watched gone = std::move(it->second);
      watched_.erase(it);
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, gone.pidfd, nullptr);
      close(gone.pidfd);
      if (gone.monitor) {
        waitpid(pid, nullptr, WNOHANG);
        continue;
      }
      // The monitor's record, then the callback, off the reaper's thread.
      ++callbacks_running_;
      std::thread([this, pid, gone = std::move(gone)] {
        const EngineExit exit = ReadExit(pid, gone.exit_status_path);
        if (!gone.cgroup_path.empty()) RemoveEngineCgroup(gone.cgroup_path);
        {
          std::lock_guard done(mu_);
          if (exits_.size() >= kRememberedExits) exits_.erase(exits_.begin());
          exits_[pid] = exit;
          exited_cv_.notify_all();
        }
        on_exit_(gone.tag, pid, exit);
        std::lock_guard done(mu_);
        if (--callbacks_running_ == 0) callbacks_done_.notify_all();
      }).detach();
    }
  }
}

std::optional<EngineExit> EngineSupervisor::WaitForExit(pid_t pid, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!exited_cv_.wait_for(lock, timeout, [&] { return exits_.contains(pid); })) return std::nullopt;
  return exits_[pid];
}

void EngineSupervisor::Kill(pid_t pid, int signal) {
  std::lock_guard lock(mu_);
  // Signal through the pidfd: never a recycled pid.
  if (auto it = watched_.find(pid); it != watched_.end()) syscall(SYS_pidfd_send_signal, it->second.pidfd, signal, nullptr, 0);
}

}  // namespace vmd::daemon

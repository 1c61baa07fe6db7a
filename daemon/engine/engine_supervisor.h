// Starts vmd-engine processes and watches them. Each engine runs in its own
// session (setsid), so it outlives vmd; after a vmd restart its pid is
// adopted again. Exits are detected through pidfds; for engines that are
// still vmd's children the exact exit status is reaped, for adopted ones the
// kernel keeps it from us, so it is reported as unknown.
#ifndef VMD_DAEMON_ENGINE_ENGINE_SUPERVISOR_H_
#define VMD_DAEMON_ENGINE_ENGINE_SUPERVISOR_H_

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace vmd::daemon {

struct EngineExit {
  bool known = false;  // false for an adopted engine: the status is not ours to reap
  int code = -1;       // exit code, -1 when killed by a signal
  int signal = 0;
  std::string Describe() const;
};

class EngineSupervisor {
 public:
  // Called on a thread of its own for every engine that exits: its tag (the
  // VM name), pid and exit. The supervisor's destructor waits for it.
  using ExitCallback = std::function<void(const std::string& tag, pid_t pid, const EngineExit& exit)>;

  EngineSupervisor(std::string engine_path, ExitCallback on_exit);
  ~EngineSupervisor();

  // Starts `engine_path --config <config_path> --ready-fd 3` in a new session
  // with stdout and stderr appended to `log_path`. Returns the pid at once.
  absl::StatusOr<pid_t> Spawn(const std::string& tag, const std::string& config_path, const std::string& log_path,
                              int* ready_fd);
  // Waits until the engine writes its ready byte. On failure the engine has
  // exited (or, after the timeout, has been killed).
  absl::Status WaitReady(pid_t pid, int ready_fd, std::chrono::milliseconds timeout);
  // Watches an engine that vmd did not start (found after a restart).
  absl::Status Adopt(const std::string& tag, pid_t pid);
  // The exit of `pid`, waiting up to `timeout` for it.
  std::optional<EngineExit> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);
  void Kill(pid_t pid, int signal);

 private:
  struct Watched {
    std::string tag;
    int pidfd;
    bool child;
  };
  absl::Status Watch(const std::string& tag, pid_t pid, bool child);
  void ReapLoop();

  const std::string engine_path_;
  const ExitCallback on_exit_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mu_;
  std::condition_variable exited_cv_;
  std::map<pid_t, Watched> watched_;
  std::map<pid_t, EngineExit> exits_;  // recent exits, for WaitForExit
  bool stopping_ = false;
  // Exit callbacks running on threads of their own; the destructor waits for
  // them, so none outlives what it calls.
  int callbacks_running_ = 0;
  std::condition_variable callbacks_done_;
  std::thread reaper_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_SUPERVISOR_H_

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
#include <vector>

#include "absl/status/statusor.h"

namespace vmd::daemon {

struct EngineExit {
  bool known = false;  // false for an adopted engine: the status is not ours to reap
  int code = -1;       // exit code, -1 when killed by a signal
  int signal = 0;
  std::string Describe() const;
};

// What an engine starts with (engine_spawn.h says how it is born).
struct EngineSpawnOptions {
  std::string tag;  // the VM name, handed to the exit callback
  std::string config_path;
  std::string log_path;  // stdout and stderr, appended
  // The engine's whole environment; unset: vmd's own (vmd --no-sandbox).
  std::optional<std::vector<std::string>> env;
  // The engine's cgroup (engine_cgroup.h): an fd to be born in, and the
  // path, removed once the engine is gone. -1 and empty: vmd's cgroup.
  int cgroup_fd = -1;
  std::string cgroup_path;
};

class EngineSupervisor {
 public:
  // Called on a thread of its own for every engine that exits: its tag (the
  // VM name), pid and exit. The supervisor's destructor waits for it.
  using ExitCallback = std::function<void(const std::string& tag, pid_t pid, const EngineExit& exit)>;

  EngineSupervisor(std::string engine_path, ExitCallback on_exit);
  ~EngineSupervisor();

  // Starts `engine_path --config <config_path> --ready-fd 3` in a new
  // session. Returns the pid once it runs the engine.
  absl::StatusOr<pid_t> Spawn(const EngineSpawnOptions& options, int* ready_fd);
  // Waits until the engine writes its ready byte. On failure the engine has
  // exited (or, after the timeout, has been killed).
  absl::Status WaitReady(pid_t pid, int ready_fd, std::chrono::milliseconds timeout);
  // Watches an engine that vmd did not start (found after a restart);
  // `cgroup_path` as in EngineSpawnOptions.
  absl::Status Adopt(const std::string& tag, pid_t pid, const std::string& cgroup_path = "");
  // The exit of `pid`, waiting up to `timeout` for it.
  std::optional<EngineExit> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);
  void Kill(pid_t pid, int signal);

 private:
  struct Watched {
    std::string tag;
    int pidfd;
    bool child;
    std::string cgroup_path;
  };
  absl::Status Watch(const std::string& tag, pid_t pid, bool child, const std::string& cgroup_path);
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

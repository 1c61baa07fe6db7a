// Starts vmd-engine processes and watches them. Each engine runs in its own
// session (setsid), so it outlives vmd; after a vmd restart it is adopted
// again. Every engine is started under its exit monitor (`vmd-engine
// --exit-status-file`, backend/engine/exit_monitor.h), its parent, which
// writes how it ended: so the exit code or signal is exact whether this vmd
// started the engine or adopted it. Exits are seen through pidfds.
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
  bool known = false;  // false when the exit monitor left no record
  int code = -1;       // exit code, -1 when killed by a signal
  int signal = 0;
  std::string Describe() const;
};

// What an engine starts with (engine_spawn.h says how it is born).
struct EngineSpawnOptions {
  std::string tag;  // the VM name, handed to the exit callback
  std::string config_path;
  std::string log_path;  // stdout and stderr, appended
  std::string exit_status_path;  // where the exit monitor says how it ended
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

  // Starts `engine_path --exit-status-file <options.exit_status_path>
  // --config <options.config_path> --ready-fd 3` (engine_spawn.h says how it
  // is born) and returns the engine's pid once it has said it (the first
  // bytes on the ready fd). The process spawned is the engine's exit monitor,
  // whose child is the engine.
  absl::StatusOr<pid_t> Spawn(const EngineSpawnOptions& options, int* ready_fd);
  // Waits until the engine writes its ready byte. On failure the engine has
  // exited (or, after the timeout, has been killed).
  absl::Status WaitReady(pid_t pid, int ready_fd, std::chrono::milliseconds timeout);
  // Watches an engine that this vmd did not start (found after a restart);
  // the paths as in EngineSpawnOptions.
  absl::Status Adopt(const std::string& tag, pid_t pid, const std::string& exit_status_path,
                     const std::string& cgroup_path);
  // The exit of `pid`, waiting up to `timeout` for it.
  std::optional<EngineExit> WaitForExit(pid_t pid, std::chrono::milliseconds timeout);
  void Kill(pid_t pid, int signal);

 private:
  struct Watched {
    std::string tag;
    int pidfd;
    // An exit monitor (vmd's child: reaped, nothing to report) or an engine.
    bool monitor;
    std::string exit_status_path;
    std::string cgroup_path;  // removed once the engine is gone
  };
  absl::Status Watch(pid_t pid, Watched watched);
  void ReapLoop();
  // The exit monitor's record of `pid`, waiting a little for it to be
  // written (the monitor writes just after the engine has exited).
  static EngineExit ReadExit(pid_t pid, const std::string& exit_status_path);

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

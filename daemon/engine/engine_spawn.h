// How an engine process is born: exactly the environment it is given
// (nothing of vmd's leaks into a sandboxed engine), stdin from /dev/null,
// stdout and stderr to its log, its ready pipe as fd 3, default signal
// dispositions and an empty mask, a session of its own (it outlives vmd),
// and -- given a cgroup -- born inside it with clone3(CLONE_INTO_CGROUP), so
// that it never runs, nor allocates a page, outside its limits.
#ifndef VMD_DAEMON_ENGINE_ENGINE_SPAWN_H_
#define VMD_DAEMON_ENGINE_ENGINE_SPAWN_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vmd::daemon {

inline constexpr int kEngineReadyFd = 3;

struct EngineProcessSpec {
  std::string path;
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // "NAME=value", the whole environment
  int output_fd = -1;             // becomes stdout and stderr
  int ready_fd = -1;              // becomes kEngineReadyFd
  int cgroup_fd = -1;             // a cgroup v2 directory, or -1
};

// Returns the pid once the engine's execve has succeeded (or its error).
absl::StatusOr<pid_t> SpawnEngineProcess(const EngineProcessSpec& spec);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_SPAWN_H_

// The one vmd-engine vmd runs, for the host probe and every VM alike: the
// one given, else the one beside vmd, else the first on $PATH -- resolved to
// an absolute path once, at start (so no VM runs ./vmd-engine from vmd's
// working directory).
#ifndef VMD_DAEMON_ENGINE_ENGINE_PATH_H_
#define VMD_DAEMON_ENGINE_ENGINE_PATH_H_

#include <string>

#include "absl/status/statusor.h"

namespace vmd::daemon {

// `requested` empty: beside vmd, then $PATH. NOT_FOUND naming where it
// looked when there is no executable vmd-engine.
absl::StatusOr<std::string> ResolveEnginePath(const std::string& requested);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_PATH_H_

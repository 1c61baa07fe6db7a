// vmd's state dir and what lives in it are private to vmd (and, through the
// socket, to its group): dirs 0700, files 0600 or 0640, whatever the umask
// vmd was started with. Engines inherit vmd's umask, so what they create is
// never world-readable either.
#ifndef VMD_DAEMON_STORE_STATE_DIR_H_
#define VMD_DAEMON_STORE_STATE_DIR_H_

#include <string>

#include "absl/status/status.h"

namespace vmd::daemon {

// The umask vmd runs with (group may read, others nothing).
inline constexpr mode_t kVmdUmask = 027;
inline constexpr mode_t kPrivateDirMode = 0700;
inline constexpr mode_t kPrivateFileMode = 0600;

// Creates `dir` and `dir`/vms, or tightens them when they exist, to 0700.
absl::Status PrepareStateDir(const std::string& dir);

// Creates (or truncates) `path` with mode 0600 and writes `contents`; the
// write is checked to the end (flushed and closed), so a full disk is an
// error naming the file (RESOURCE_EXHAUSTED), never a short file.
absl::Status WritePrivateFile(const std::string& path, const std::string& contents);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_STORE_STATE_DIR_H_

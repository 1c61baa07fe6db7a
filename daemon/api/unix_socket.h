// vmd's API socket: `--listen unix:PATH` takes PATH only if nothing but a
// stale socket is there (never a file: `--listen unix:STATE/vmd.db` must not
// destroy the store), refuses a socket another process answers on (a second
// vmd), and leaves the socket mode 0660, in `--socket-group` if given, so a
// group of operators can use vmctl.
#ifndef VMD_DAEMON_API_UNIX_SOCKET_H_
#define VMD_DAEMON_API_UNIX_SOCKET_H_

#include <string>

#include "absl/status/statusor.h"

namespace vmd::daemon {

// PATH of "unix:PATH"; INVALID_ARGUMENT naming --listen otherwise.
absl::StatusOr<std::string> UnixSocketPath(const std::string& listen);

// Makes PATH free for a new socket: creates its directory, removes a stale
// socket (one nobody answers on); FAILED_PRECONDITION for anything else
// there, or ALREADY_EXISTS for a live socket.
absl::Status ClaimSocketPath(const std::string& path);

// Mode 0660, and group `group` when not empty (NOT_FOUND for an unknown one).
absl::Status ShareSocket(const std::string& path, const std::string& group);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_UNIX_SOCKET_H_

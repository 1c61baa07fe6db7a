#include "daemon/api/unix_socket.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vmd::daemon {
namespace {

// Whether a process accepts connections on the socket at `path`.
bool Answers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return connected;
}

}  // namespace

absl::StatusOr<std::string> UnixSocketPath(const std::string& listen) {
  if (!absl::StartsWith(listen, "unix:")) {
    return absl::InvalidArgumentError("--listen: only unix:PATH is supported (TCP with mTLS is not built yet)");
  }
  std::string path = listen.substr(5);
  if (path.empty()) return absl::InvalidArgumentError("--listen: unix: needs a path");
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    return absl::InvalidArgumentError(absl::StrCat("--listen: the socket path is longer than ",
                                                   sizeof(sockaddr_un::sun_path) - 1, " characters"));
  }
  return path;
}

absl::Status ClaimSocketPath(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return absl::ErrnoToStatus(errno, absl::StrCat("--listen: ", path));
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--listen: ", path, " exists and is not a socket; vmd will not remove it"));
  }
  if (Answers(path)) {
    return absl::AlreadyExistsError(
        absl::StrCat("--listen: another process (a vmd?) answers on ", path, "; refusing to take it over"));
  }
  if (unlink(path.c_str()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("remove the stale socket ", path));
  return absl::OkStatus();
}

absl::Status ShareSocket(const std::string& path, const std::string& group) {
  if (!group.empty()) {
    const struct group* g = getgrnam(group.c_str());
    if (g == nullptr) return absl::NotFoundError(absl::StrCat("--socket-group: no group named ", group));
    if (chown(path.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("--socket-group: chown ", path));
    }
  }
  if (chmod(path.c_str(), 0660) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", path));
  return absl::OkStatus();
}

}  // namespace vmd::daemon

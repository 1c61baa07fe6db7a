#include "daemon/store/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace vmd::daemon {
namespace {

absl::Status PrivateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::ErrnoToStatus(ec.value(), absl::StrCat("state dir ", dir));
  if (chmod(dir.c_str(), kPrivateDirMode) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", dir));
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareStateDir(const std::string& dir) {
  if (absl::Status s = PrivateDir(dir); !s.ok()) return s;
  return PrivateDir(dir + "/vms");
}

absl::Status WritePrivateFile(const std::string& path, const std::string& contents) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, kPrivateFileMode);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  // O_CREAT's mode only counts for a new file.
  fchmod(fd, kPrivateFileMode);
  for (size_t done = 0; done < contents.size();) {
    const ssize_t n = write(fd, contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      close(fd);
      return absl::ErrnoToStatus(err, absl::StrCat("write ", path));
    }
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("write ", path));
  return absl::OkStatus();
}

}  // namespace vmd::daemon

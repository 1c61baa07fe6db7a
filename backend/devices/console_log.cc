#include "backend/devices/console_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vmd::engine {

absl::StatusOr<std::unique_ptr<ConsoleLog>> ConsoleLog::Open(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open console log ", path));
  struct stat st {};
  fstat(fd, &st);
  return std::unique_ptr<ConsoleLog>(new ConsoleLog(fd, static_cast<uint64_t>(st.st_size)));
}

ConsoleLog::~ConsoleLog() {
  Flush();
  close(fd_);
}

void ConsoleLog::Append(uint8_t byte) {
  std::lock_guard lock(mu_);
  pending_.push_back(static_cast<char>(byte));
  if (byte == '\n' || pending_.size() >= 4096) FlushLocked();
}

void ConsoleLog::Flush() {
  std::lock_guard lock(mu_);
  FlushLocked();
}

void ConsoleLog::FlushLocked() {
  if (pending_.empty()) return;
  if (size_ + pending_.size() > kMaxBytes) {
    if (!truncated_) {
      truncated_ = true;
      static constexpr char kNote[] = "\n[vmd: console log reached its size limit; output dropped]\n";
      if (write(fd_, kNote, sizeof(kNote) - 1) > 0) size_ += sizeof(kNote) - 1;
    }
    pending_.clear();
    return;
  }
  const char* p = pending_.data();
  size_t left = pending_.size();
  while (left > 0) {
    ssize_t n = write(fd_, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // a full disk loses console output, never the VM
    p += n;
    left -= static_cast<size_t>(n);
    size_ += static_cast<uint64_t>(n);
  }
  pending_.clear();
}

}  // namespace vmd::engine

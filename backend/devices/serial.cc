#include "backend/devices/serial.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vmd::engine {
namespace {

// Register offsets and bits (PC16550D data sheet).
constexpr uint16_t kThrRbrDll = 0, kIerDlm = 1, kIir = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kLsrThre = 0x20, kLsrTemt = 0x40;
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kMsrDcdDsrCts = 0xb0;

}  // namespace

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

void Serial16550::Out(uint16_t offset, std::span<const uint8_t> data) {
  if (data.empty()) return;
  uint8_t v = data[0];
  std::lock_guard lock(mu_);
  const bool dlab = lcr_ & kLcrDlab;
  switch (offset) {
    case kThrRbrDll:
      if (dlab) {
        dll_ = v;
      } else {
        log_->Append(v);
      }
      break;
    case kIerDlm: (dlab ? dlm_ : ier_) = v; break;
    case kLcr: lcr_ = v; break;
    case kMcr: mcr_ = v; break;
    case kScr: scr_ = v; break;
    default: break;  // FCR and read-only registers
  }
}

void Serial16550::In(uint16_t offset, std::span<uint8_t> data) {
  if (data.empty()) return;
  std::lock_guard lock(mu_);
  const bool dlab = lcr_ & kLcrDlab;
  uint8_t v = 0;
  switch (offset) {
    case kThrRbrDll: v = dlab ? dll_ : 0; break;
    case kIerDlm: v = dlab ? dlm_ : ier_; break;
    case kIir: v = kIirNoInterrupt; break;
    case kLcr: v = lcr_; break;
    case kMcr: v = mcr_; break;
    case kLsr: v = kLsrThre | kLsrTemt; break;
    case kMsr: v = kMsrDcdDsrCts; break;
    case kScr: v = scr_; break;
  }
  std::fill(data.begin(), data.end(), 0);
  data[0] = v;
}

}  // namespace vmd::engine

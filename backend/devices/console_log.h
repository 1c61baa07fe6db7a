// The VM's console log file (COM1 output), capped so that a chatty guest
// cannot fill the disk. Kept across engine restarts: it is appended to.
#ifndef VMD_BACKEND_DEVICES_CONSOLE_LOG_H_
#define VMD_BACKEND_DEVICES_CONSOLE_LOG_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace vmd::engine {

class ConsoleLog {
 public:
  static constexpr uint64_t kMaxBytes = 16ull << 20;
  static absl::StatusOr<std::unique_ptr<ConsoleLog>> Open(const std::string& path);
  ~ConsoleLog();
  void Append(uint8_t byte);
  // Writes buffered bytes; also done at every newline.
  void Flush();

 private:
  explicit ConsoleLog(int fd, uint64_t size) : fd_(fd), size_(size) {}
  void FlushLocked();
  std::mutex mu_;
  int fd_;
  uint64_t size_;
  std::string pending_;
  bool truncated_ = false;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_CONSOLE_LOG_H_

// Just enough of a 16550 UART on COM1 for the firmware's console: the
// transmitter is always ready, received data is never available, and what
// the guest transmits is appended to the VM's console log.
#ifndef VMD_BACKEND_DEVICES_SERIAL_H_
#define VMD_BACKEND_DEVICES_SERIAL_H_

#include <cstdint>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "backend/devices/io_bus.h"

namespace vmd::engine {

// The console log file, capped so that a chatty guest cannot fill the disk.
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

class Serial16550 final : public IoDevice {
 public:
  static constexpr uint16_t kPorts = 8;
  explicit Serial16550(ConsoleLog* log) : log_(log) {}
  void Out(uint16_t offset, std::span<const uint8_t> data) override;
  void In(uint16_t offset, std::span<uint8_t> data) override;

 private:
  std::mutex mu_;
  ConsoleLog* const log_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_SERIAL_H_

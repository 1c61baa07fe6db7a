// Just enough of a 16550 UART on COM1 for the firmware's console: the
// transmitter is always ready, received data is never available, and what
// the guest transmits is appended to the VM's console log.
#ifndef VMD_BACKEND_DEVICES_SERIAL_H_
#define VMD_BACKEND_DEVICES_SERIAL_H_

#include <cstdint>
#include <mutex>

#include "backend/devices/console_log.h"
#include "backend/devices/device.h"

namespace vmd::engine {

class Serial16550 final : public Device {
 public:
  static constexpr uint16_t kPorts = 8;
  explicit Serial16550(ConsoleLog* log) : log_(log) {}

  absl::string_view key() const override { return "serial-com1"; }
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  void Read(uint64_t offset, std::span<uint8_t> data) override;
  // The registers a guest programs (line control, divisor, scratch, ...);
  // the console log itself is a file and needs no saving.
  absl::StatusOr<std::string> Save() override;
  absl::Status Restore(absl::string_view state) override;

 private:
  std::mutex mu_;
  ConsoleLog* const log_;
  uint8_t ier_ = 0, lcr_ = 0, mcr_ = 0, scr_ = 0, dll_ = 1, dlm_ = 0;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_SERIAL_H_

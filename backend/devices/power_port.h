// The firmware's power-off port (VMD_PORT_POWER, guest_abi.h): an OUT there
// is the guest turning itself off, with a code (VMD_POWER_OFF_*).
#ifndef VMD_BACKEND_DEVICES_POWER_PORT_H_
#define VMD_BACKEND_DEVICES_POWER_PORT_H_

#include <algorithm>
#include <cstdint>
#include <functional>

#include "backend/devices/device.h"

namespace vmd::engine {

class PowerPort final : public Device {
 public:
  using PowerOff = std::function<void(uint8_t code)>;
  explicit PowerPort(PowerOff power_off) : power_off_(std::move(power_off)) {}

  absl::string_view key() const override { return "power"; }
  void Write(uint64_t, std::span<const uint8_t> data) override { power_off_(data.empty() ? 0 : data[0]); }
  void Read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), 0); }

 private:
  const PowerOff power_off_;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_POWER_PORT_H_

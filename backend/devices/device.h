// The engine's device interface: a device answers guest accesses to the
// ranges it holds on the DeviceBus, and -- like crosvm's Suspendable --
// sleeps, wakes, saves and restores under a stable key, so that snapshots
// and hot-plug treat every device alike.
#ifndef VMD_BACKEND_DEVICES_DEVICE_H_
#define VMD_BACKEND_DEVICES_DEVICE_H_

#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace vmd::engine {

class Device {
 public:
  virtual ~Device() = default;

  // The key the device's state is saved under; stable across engine
  // versions ("serial-com1"), unique on a bus.
  virtual absl::string_view key() const = 0;

  // A guest access at `offset` into the range it hit. Reads fill `data`
  // (the access width).
  virtual void Read(uint64_t offset, std::span<uint8_t> data) = 0;
  virtual void Write(uint64_t offset, std::span<const uint8_t> data) = 0;

  // Sleep: stop whatever the device does on its own (threads, timers,
  // signalling the guest) until Wake. The bus sleeps every device before it
  // saves any, with every vCPU parked.
  virtual absl::Status Sleep() { return absl::OkStatus(); }
  virtual absl::Status Wake() { return absl::OkStatus(); }
  // The device's state in a form of its own choosing (it reads it back in
  // Restore), taken while asleep. A device with no state saves "".
  virtual absl::StatusOr<std::string> Save() { return std::string(); }
  virtual absl::Status Restore(absl::string_view state) {
    return state.empty() ? absl::OkStatus()
                         : absl::InvalidArgumentError("a device without state was given a saved state");
  }
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_DEVICE_H_

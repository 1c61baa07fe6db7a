// One bus for port I/O and MMIO (after crosvm's devices/src/bus.rs): routes
// a vCPU's access to the device holding that address, and walks every
// device for sleep, wake, save and restore. Thread-safe: vCPU threads
// dispatch while devices are inserted or removed (hot-plug).
#ifndef VMD_BACKEND_DEVICES_DEVICE_BUS_H_
#define VMD_BACKEND_DEVICES_DEVICE_BUS_H_

#include <cstdint>
#include <map>
#include <shared_mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/devices/device.h"

namespace vmd::engine {

enum class BusSpace { kPio, kMmio };

class DeviceBus {
 public:
  // `device` takes [base, base + length) of `space`; it must outlive its
  // ranges. One device may hold several ranges (and spaces). Overlapping an
  // existing range is ALREADY_EXISTS; so is another device with the same key.
  absl::Status Insert(BusSpace space, uint64_t base, uint64_t length, Device* device);
  // Removes every range of `device` (hot-unplug); NOT_FOUND if it has none.
  absl::Status Remove(Device* device);

  // Dispatches an access; false when no device holds `address` (then a
  // read is left for the caller to fill: all ones on a PC bus).
  bool Read(BusSpace space, uint64_t address, std::span<uint8_t> data) const;
  bool Write(BusSpace space, uint64_t address, std::span<const uint8_t> data) const;

  // In insertion order (wake and restore) or its reverse (sleep), each
  // device once. All stop at the first failure, naming the device.
  absl::Status SleepAll();
  absl::Status WakeAll();
  // Every device's state by key.
  absl::StatusOr<std::map<std::string, std::string>> SaveAll();
  // Every device must find its key in `states`, and every key a device.
  absl::Status RestoreAll(const std::map<std::string, std::string>& states);

 private:
  struct Range {
    uint64_t base;
    uint64_t length;
    Device* device;
  };
  const Range* Find(BusSpace space, uint64_t address) const;

  mutable std::shared_mutex mu_;
  // Ranges by base, per space.
  std::map<uint64_t, Range> ranges_[2];
  std::vector<Device*> devices_;  // insertion order, each once
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_DEVICE_BUS_H_

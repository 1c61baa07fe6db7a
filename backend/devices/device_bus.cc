#include "backend/devices/device_bus.h"

#include <algorithm>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace vmd::engine {
namespace {

const char* SpaceName(BusSpace space) { return space == BusSpace::kPio ? "port" : "MMIO address"; }

}  // namespace

absl::Status DeviceBus::Insert(BusSpace space, uint64_t base, uint64_t length, Device* device) {
  if (length == 0 || base + length < base) {
    return absl::InvalidArgumentError(absl::StrCat("device ", device->key(), ": empty or wrapping range"));
  }
  std::unique_lock lock(mu_);
  auto& ranges = ranges_[static_cast<int>(space)];
  // The first range at or after base, and the one before it.
  auto next = ranges.lower_bound(base);
  if (next != ranges.end() && next->first < base + length) {
    return absl::AlreadyExistsError(absl::StrCat("device ", device->key(), ": ", SpaceName(space), " 0x",
                                                 absl::Hex(base), " overlaps device ", next->second.device->key()));
  }
  if (next != ranges.begin()) {
    const Range& prev = std::prev(next)->second;
    if (prev.base + prev.length > base) {
      return absl::AlreadyExistsError(absl::StrCat("device ", device->key(), ": ", SpaceName(space), " 0x",
                                                   absl::Hex(base), " overlaps device ", prev.device->key()));
    }
  }
  const bool known = std::find(devices_.begin(), devices_.end(), device) != devices_.end();
  if (!known) {
    for (const Device* d : devices_) {
      if (d->key() == device->key()) {
        return absl::AlreadyExistsError(absl::StrCat("another device has the key ", device->key()));
      }
    }
    devices_.push_back(device);
  }
  ranges.emplace(base, Range{base, length, device});
  return absl::OkStatus();
}

absl::Status DeviceBus::Remove(Device* device) {
  std::unique_lock lock(mu_);
  auto it = std::find(devices_.begin(), devices_.end(), device);
  if (it == devices_.end()) return absl::NotFoundError(absl::StrCat("device ", device->key(), " is not on the bus"));
  devices_.erase(it);
  for (auto& ranges : ranges_) {
    std::erase_if(ranges, [&](const auto& entry) { return entry.second.device == device; });
  }
  return absl::OkStatus();
}

const DeviceBus::Range* DeviceBus::Find(BusSpace space, uint64_t address) const {
  const auto& ranges = ranges_[static_cast<int>(space)];
  auto it = ranges.upper_bound(address);
  if (it == ranges.begin()) return nullptr;
  const Range& r = std::prev(it)->second;
  return address - r.base < r.length ? &r : nullptr;
}

bool DeviceBus::Read(BusSpace space, uint64_t address, std::span<uint8_t> data) const {
  std::shared_lock lock(mu_);
  const Range* r = Find(space, address);
  if (r == nullptr) return false;
  r->device->Read(address - r->base, data);
  return true;
}

bool DeviceBus::Write(BusSpace space, uint64_t address, std::span<const uint8_t> data) const {
  std::shared_lock lock(mu_);
  const Range* r = Find(space, address);
  if (r == nullptr) return false;
  r->device->Write(address - r->base, data);
  return true;
}

absl::Status DeviceBus::SleepAll() {
  std::vector<Device*> devices;
  {
    std::shared_lock lock(mu_);
    devices = devices_;
  }
  for (auto it = devices.rbegin(); it != devices.rend(); ++it) {
    if (absl::Status s = (*it)->Sleep(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("device ", (*it)->key(), ": sleep: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status DeviceBus::WakeAll() {
  std::vector<Device*> devices;
  {
    std::shared_lock lock(mu_);
    devices = devices_;
  }
  for (Device* d : devices) {
    if (absl::Status s = d->Wake(); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("device ", d->key(), ": wake: ", s.message()));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, std::string>> DeviceBus::SaveAll() {
  std::shared_lock lock(mu_);
  std::map<std::string, std::string> states;
  for (Device* d : devices_) {
    absl::StatusOr<std::string> state = d->Save();
    if (!state.ok()) {
      return absl::Status(state.status().code(), absl::StrCat("device ", d->key(), ": save: ", state.status().message()));
    }
    states.emplace(std::string(d->key()), *std::move(state));
  }
  return states;
}

absl::Status DeviceBus::RestoreAll(const std::map<std::string, std::string>& states) {
  std::shared_lock lock(mu_);
  for (const auto& [key, state] : states) {
    if (std::none_of(devices_.begin(), devices_.end(), [&](const Device* d) { return d->key() == key; })) {
      return absl::InvalidArgumentError(absl::StrCat("the saved state has device ", key, ", which this VM lacks"));
    }
  }
  for (Device* d : devices_) {
    auto it = states.find(std::string(d->key()));
    if (it == states.end()) {
      return absl::InvalidArgumentError(absl::StrCat("the saved state has no device ", d->key()));
    }
    if (absl::Status s = d->Restore(it->second); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat("device ", d->key(), ": restore: ", s.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace vmd::engine

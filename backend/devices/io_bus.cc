#include "backend/devices/io_bus.h"

#include <algorithm>

namespace vmd::engine {

void IoBus::Register(uint16_t base, uint16_t length, IoDevice* device) {
  ranges_.push_back({base, length, device});
}

const IoBus::Range* IoBus::Find(uint16_t port) const {
  for (const Range& r : ranges_) {
    if (port >= r.base && port - r.base < r.length) return &r;
  }
  return nullptr;
}

void IoBus::Out(uint16_t port, std::span<const uint8_t> data) const {
  if (const Range* r = Find(port)) r->device->Out(port - r->base, data);
}

void IoBus::In(uint16_t port, std::span<uint8_t> data) const {
  if (const Range* r = Find(port)) {
    r->device->In(port - r->base, data);
  } else {
    std::fill(data.begin(), data.end(), 0xff);
  }
}

}  // namespace vmd::engine

// Port I/O dispatch: routes a vCPU's IN/OUT exit to the device at that port.
#ifndef VMD_BACKEND_DEVICES_IO_BUS_H_
#define VMD_BACKEND_DEVICES_IO_BUS_H_

#include <cstdint>
#include <span>
#include <vector>

namespace vmd::engine {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // `offset` is relative to the device's base port.
  virtual void Out(uint16_t offset, std::span<const uint8_t> data) = 0;
  virtual void In(uint16_t offset, std::span<uint8_t> data) = 0;
};

class IoBus {
 public:
  // Devices must outlive the bus. Ranges must not overlap.
  void Register(uint16_t base, uint16_t length, IoDevice* device);
  // Unclaimed ports behave as on a PC: writes are dropped, reads give all ones.
  void Out(uint16_t port, std::span<const uint8_t> data) const;
  void In(uint16_t port, std::span<uint8_t> data) const;

 private:
  struct Range {
    uint16_t base;
    uint16_t length;
    IoDevice* device;
  };
  const Range* Find(uint16_t port) const;
  std::vector<Range> ranges_;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_DEVICES_IO_BUS_H_

// A model of the guest firmware (backend/guest/) for one vCPU: the same boot
// line, workloads, heartbeat format, counter page and power-off protocol
// (guest_abi.h), expressed as a step machine instead of x86 code. Time in the
// model advances only while the vCPU runs, so a paused VM makes no progress.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

#include "backend/guest/guest_abi.h"

namespace vmd::hv {

class SimGuest {
 public:
  // One model tick: the counter workload advances its counter once per tick.
  static constexpr std::chrono::milliseconds kTick{10};

  struct Step {
    enum class Kind {
      kOut,            // OUT `value` to `port`, then ask again
      kWaitInterrupt,  // halted until an interrupt arrives
      kWaitTick,       // busy until the next tick
    };
    Kind kind;
    uint16_t port = 0;
    uint8_t value = 0;
  };

  // `status` is the guest status page in guest memory (vCPU 0 writes it).
  SimGuest(uint32_t vcpu_id, const vmd_boot_info& boot, vmd_guest_status* status);

  // What the guest does next.
  Step Next();
  // One tick of guest time has passed while it was running.
  void OnTick();
  // An interrupt with `vector` was delivered to this vCPU.
  void OnInterrupt(uint8_t vector);

 private:
  void Print(const std::string& line);

  const uint32_t vcpu_id_;
  const vmd_boot_info boot_;
  vmd_guest_status* const status_;
  bool booted_ = false;
  bool power_off_requested_ = false;
  bool powered_off_ = false;
  uint64_t ticks_since_heartbeat_ = 0;
  std::deque<uint8_t> console_;  // bytes still to write to COM1
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_

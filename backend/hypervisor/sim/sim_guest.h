// A model of the guest firmware (backend/guest/) for one vCPU: the same boot
// line, workloads, heartbeat format, counter page, probe mailbox and
// power-off protocol (guest_abi.h), expressed as a step machine instead of
// x86 code. Time in the model advances only while the vCPU runs, so a paused
// VM makes no progress.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/sim/sim_cpu.h"
#include "backend/memory/guest_memory.h"
#include "backend/msr/msr_filter.h"

namespace vmd::hv {

// What the guest model needs from its VM.
class SimPlatform {
 public:
  virtual ~SimPlatform() = default;
  // The MSR filter installed on the VM (null: none); read on every guest
  // MSR access, as KVM reads its filter.
  virtual std::shared_ptr<const msr::MsrFilter> MsrFilter() const = 0;
  // The guest wrote [gpa, gpa + len) (dirty logging).
  virtual void MarkDirty(uint64_t gpa, uint64_t len) = 0;
};

class SimGuest {
 public:
  using Clock = std::chrono::steady_clock;
  // One model tick: the counter workload advances its counter once per tick.
  static constexpr std::chrono::milliseconds kTick{10};

  struct Step {
    enum class Kind {
      kOut,            // OUT `value` (`size` bytes) to `port`, then ask again
      kWaitInterrupt,  // halted until an interrupt arrives
      kWaitTick,       // busy until the next tick
      kWaitUntil,      // waiting for an interrupt until `deadline`
      kMsrExit,        // an MSR access exits to user space (msr_* fields)
      kMmioRead,       // a load of `size` bytes from `address`, outside RAM
      kMmioWrite,      // a store of `value` (`size` bytes) to `address`
    };
    Kind kind;
    uint16_t port = 0;
    uint64_t value = 0;
    uint8_t size = 1;
    Clock::time_point deadline{};
    bool msr_write = false;
    uint32_t msr_index = 0;
    uint64_t msr_data = 0;
    uint32_t msr_reason = 0;
    uint64_t address = 0;
  };

  // The boot info is read from guest memory (the engine wrote it before the
  // vCPU's boot entry, or the memory is a snapshot's).
  SimGuest(uint32_t vcpu_id, const cpu::HostProfile& profile, cpu::CpuidTable cpuid, GuestMemory& memory,
           SimPlatform& platform);

  // What the guest does next.
  Step Next();
  // One tick of guest time has passed while it was running.
  void OnTick();
  // An interrupt with `vector` was delivered to this vCPU.
  void OnInterrupt(uint8_t vector);
  // User space answered the kMsrExit step: the value read, or a #GP.
  void CompleteMsr(uint64_t value, bool inject_gp);
  // User space answered the kMmioRead step.
  void CompleteMmioRead(uint64_t value);

  const SimCpu& cpu() const { return cpu_; }
  SimCpu& mutable_cpu() { return cpu_; }
  // The model's whole state: the CPU's into `state`'s architectural fields,
  // the firmware model's into state.sim_model.
  void SaveState(VcpuState& state) const;
  absl::Status RestoreState(const VcpuState& state);

 private:
  void Print(const std::string& line);
  void TakeSelfInterrupts();
  // Runs probe ops until the program ends or an op must wait; returns the
  // step to take, or nullopt to go on with the workload.
  std::optional<Step> RunProbe();
  // Runs `op`, or returns the exit it takes (MMIO).
  std::optional<Step> Execute(vmd_probe_op& op);
  // The exit an RDMSR/WRMSR op takes to user space under the VM's filter
  // (KVM's order: the filter first, then whether KVM knows the MSR).
  std::optional<Step> MsrExit(const vmd_probe_op& op) const;
  // A guest load/store of `size` bytes at `gpa` outside RAM: the MMIO exit,
  // or the fault the firmware's page tables give (#GP non-canonical, #PF
  // beyond the identity map).
  std::optional<Step> MemoryAccessOutsideRam(vmd_probe_op& op, bool write);

  const uint32_t vcpu_id_;
  const vmd_boot_info boot_;
  GuestMemory& memory_;
  SimPlatform& platform_;
  vmd_guest_status* const status_;
  vmd_probe_mailbox* const mailbox_;
  SimCpu cpu_;
  std::deque<uint8_t> self_interrupts_;  // raised by the vCPU itself (x2APIC self IPI)
  std::array<uint64_t, 256> interrupts_{};  // taken, by vector
  bool booted_ = false;
  bool power_off_requested_ = false;
  bool powered_off_ = false;
  uint64_t ticks_since_heartbeat_ = 0;
  std::deque<uint8_t> console_;  // bytes still to write to COM1

  // The probe program in progress.
  bool probe_running_ = false;
  uint32_t probe_sequence_ = 0;
  uint32_t probe_pc_ = 0;
  std::array<uint64_t, 256> probe_base_{};  // interrupts_ at the last wait, per vector
  bool waiting_ = false;
  Clock::time_point wait_deadline_{};
  // The op at probe_pc_ waits for CompleteMsr / CompleteMmioRead.
  bool msr_exit_pending_ = false;
  bool mmio_read_pending_ = false;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_GUEST_H_

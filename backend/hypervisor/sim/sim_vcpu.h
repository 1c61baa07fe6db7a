// A sim vCPU: Run() steps the firmware model (sim_guest.h) and returns the
// exits a real guest's KVM_RUN would; kicks, interrupts and ioeventfd
// matches come from the VM.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_VCPU_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_VCPU_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>

#include "backend/cpu/host_profiles.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/sim/sim_guest.h"

namespace vmd::hv {

class SimVm;

class SimVcpu final : public Vcpu {
 public:
  SimVcpu(SimVm& vm, uint32_t id, const cpu::HostProfile& profile, cpu::CpuidTable cpuid, GuestMemory& memory);
  ~SimVcpu() override;

  uint32_t id() const override { return id_; }
  absl::StatusOr<VcpuExit> Run() override;
  // The model never reads ports; nothing to complete.
  void CompleteIoIn(std::span<const uint8_t>) override {}
  void CompleteMmioRead(std::span<const uint8_t> data) override;
  void CompleteMsr(uint64_t value, bool inject_gp) override;
  void Kick() override;
  // The model starts at the firmware's boot, whatever the registers say
  // (the sim executes no x86 code); the boot info must be in memory.
  absl::Status SetBootEntry(const BootEntry& entry) override;
  absl::StatusOr<uint64_t> TscKhz() override { return profile_.tsc_khz; }
  absl::StatusOr<VcpuState> SaveState() override;
  absl::StatusOr<uint32_t> ReadLapicRegister(uint32_t offset) override;
  absl::Status RestoreState(const VcpuState& state) override;
  std::string DumpRegisters() override;

  // Delivers an interrupt (the VM's MSIs and irqfds).
  void Interrupt(uint8_t vector);

 private:
  // The model of the firmware, made from the boot info in memory.
  absl::Status MakeGuest();

  SimVm& vm_;
  const uint32_t id_;
  const cpu::HostProfile& profile_;
  const cpu::CpuidTable cpuid_;
  GuestMemory& memory_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;
  std::deque<uint8_t> pending_irqs_;
  std::unique_ptr<SimGuest> guest_;  // null until the boot entry or a restore
  uint8_t data_[8] = {};  // the I/O or MMIO exit's bytes
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_VCPU_H_

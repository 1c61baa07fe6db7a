// The sim backend's model of one vCPU as a guest sees it through KVM: CPUID
// (the host profile's table, adjusted per vCPU by the same
// cpu::BuildVcpuCpuid the kvm backend applies) and MSRs with KVM's rules
// (which exist, which bits are reserved, what #GPs). The state starts as the
// firmware leaves it after boot (x2APIC enabled, long mode).
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "absl/status/status.h"
#include "backend/cpu/cpuid.h"
#include "backend/cpu/cpuid_runtime.h"
#include "backend/cpu/host_profiles.h"
#include "backend/hypervisor/sim/sim_msrs.h"
#include "backend/hypervisor/vcpu_state.h"

namespace vmd::hv {

// The profile's CPUID, as KVM_GET_SUPPORTED_CPUID would report it on such a
// host: the sim VM's base table.
cpu::CpuidTable SimBaseCpuid(const cpu::HostProfile& profile);

class SimCpu {
 public:
  // `cpuid` is the vCPU's table; `self_ipi` delivers an interrupt to this
  // vCPU (x2APIC ICR/SELF_IPI).
  SimCpu(const cpu::HostProfile& profile, uint32_t vcpu_id, cpu::CpuidTable cpuid,
         std::function<void(uint8_t)> self_ipi);

  // CPUID as the guest sees it now: the table with KVM's runtime bits
  // (backend/cpu/cpuid_runtime.h), which follow CR4, XCR0 and APIC_BASE.
  cpu::CpuidEntry Cpuid(uint32_t leaf, uint32_t subleaf) const;
  const cpu::CpuidTable& cpuid() const { return cpuid_; }
  // The boot entry's CR4 (the model starts where the firmware does).
  void SetBootCr4(uint64_t cr4);
  // MOV to CR4 and XSETBV, with kvm_set_cr4's and __kvm_set_xcr's checks:
  // the vector of the fault they raise (13 #GP, 6 #UD), or 0.
  uint32_t WriteCr4(uint64_t value);
  uint32_t Xsetbv(uint32_t xcr, uint64_t value);
  uint64_t cr4() const { return cr4_; }
  // Whether KVM would handle this MSR itself (else it is "unknown" to KVM:
  // #GP, or an exit with KVM_MSR_EXIT_REASON_UNKNOWN when enabled).
  bool KnowsMsr(uint32_t index) const;
  // nullopt: the access raises #GP.
  std::optional<uint64_t> ReadMsr(uint32_t index) const;
  // false: the access raises #GP.
  bool WriteMsr(uint32_t index, uint64_t value);
  uint64_t Rdtsc() const { return msrs_.Rdtsc(); }

  // The model's architectural state: its MSRs (as KVM_GET_MSRS would list
  // them) and LAPIC registers, into / from a VcpuState. Restoring is a host
  // write: the guest's checks (read-only bits, LMA) do not apply.
  void SaveState(VcpuState& state) const;
  // A register of the modelled LAPIC page (0 for those not modelled).
  uint32_t ReadLapic(uint32_t offset) const;
  absl::Status RestoreState(const VcpuState& state);

 private:
  const cpu::HostProfile& profile_;
  const uint32_t vcpu_id_;
  const cpu::CpuidTable cpuid_;  // before msrs_, which reads it
  std::function<void(uint8_t)> self_ipi_;
  SimMsrs msrs_;
  uint64_t tpr_ = 0;
  uint64_t svr_;
  uint32_t lvt_pc_ = 1u << 16;  // the performance-counter LVT: masked at reset
  uint64_t cr4_ = 0;
  uint64_t xcr0_ = 1;  // x87 at reset
  cpu::CpuidRuntime runtime_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_

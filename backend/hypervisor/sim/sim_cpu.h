// The sim backend's model of one vCPU as a guest sees it through KVM: CPUID
// (the profile's table, adjusted per vCPU by the same BuildVcpuCpuid the kvm
// backend applies) and MSRs with KVM's rules (which exist, which bits are
// reserved, what #GPs). The state starts as the firmware leaves it after boot
// (x2APIC enabled, long mode).
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/sim/sim_profiles.h"

namespace vmd::hv {

struct CpuidResult {
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
};

class SimCpu {
 public:
  // `self_ipi` delivers an interrupt to this vCPU (x2APIC ICR/SELF_IPI).
  SimCpu(const SimProfile& profile, uint32_t vcpu_id, uint32_t vcpus, std::function<void(uint8_t)> self_ipi);

  CpuidResult Cpuid(uint32_t leaf, uint32_t subleaf) const;
  // Whether KVM would handle this MSR itself (else it is "unknown" to KVM:
  // #GP, or an exit with KVM_MSR_EXIT_REASON_UNKNOWN when enabled).
  bool KnowsMsr(uint32_t index) const;
  // nullopt: the access raises #GP.
  std::optional<uint64_t> ReadMsr(uint32_t index) const;
  // false: the access raises #GP.
  bool WriteMsr(uint32_t index, uint64_t value);
  uint64_t Rdtsc() const;

 private:
  const SimProfile& profile_;
  const uint32_t vcpu_id_;
  kvm::CpuidEntries cpuid_;
  std::function<void(uint8_t)> self_ipi_;
  const std::chrono::steady_clock::time_point reset_ = std::chrono::steady_clock::now();
  int64_t tsc_offset_ = 0;
  uint64_t apic_base_;
  uint64_t efer_;
  uint64_t pat_ = 0x0007040600070406ull;  // the architectural reset value
  uint64_t tpr_ = 0;
  uint64_t svr_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_CPU_H_

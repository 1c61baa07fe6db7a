// One sim vCPU's MSRs that KVM emulates (sim_msr_table.h), with KVM's rules
// for guest accesses: the CPUID gates, reserved bits, canonical checks,
// memory-type checks and the side effects between MSRs (TSC and
// TSC_ADJUST, HWCR.McStatusWrEn and MCi_STATUS). x2APIC registers are the
// SimCpu's.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_MSRS_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_MSRS_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>

#include "backend/cpu/cpuid.h"
#include "backend/hypervisor/sim/sim_msr_table.h"

namespace vmd::hv {

class SimMsrs {
 public:
  // `values` overrides the table's resets (the profile's feature MSRs,
  // what the firmware has written).
  SimMsrs(cpu::CpuVendor vendor, const cpu::CpuidTable& cpuid, uint64_t tsc_khz,
          const std::map<uint32_t, uint64_t>& values);

  // Whether KVM has a case for it (else: unknown, KVM_MSR_EXIT_REASON_UNKNOWN).
  bool Knows(uint32_t index) const { return FindSimMsr(index, vendor_) != nullptr; }
  // A guest RDMSR / WRMSR: nullopt / false is a #GP.
  std::optional<uint64_t> Read(uint32_t index) const;
  bool Write(uint32_t index, uint64_t value);
  uint64_t Rdtsc() const;

  // Every stored MSR, for a snapshot; and a host-initiated restore of them.
  std::map<uint32_t, uint64_t> Values() const;
  void RestoreValue(uint32_t index, uint64_t value);

 private:
  bool Permitted(const SimMsrSpec& spec) const;
  bool HasCpuid(const CpuidBit& bit) const;
  uint64_t Value(uint32_t index) const;
  uint64_t ReservedPhysicalBits() const;
  bool WriteChecked(const SimMsrSpec& spec, uint32_t index, uint64_t value);

  const cpu::CpuVendor vendor_;
  const cpu::CpuidTable& cpuid_;
  const uint64_t tsc_khz_;
  const std::chrono::steady_clock::time_point reset_ = std::chrono::steady_clock::now();
  uint64_t tsc_offset_ = 0;  // modulo 2^64, as the TSC counts
  std::map<uint32_t, uint64_t> values_;  // what differs from the reset
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_MSRS_H_

// Host CPU profiles as typed data: the CPUs the sim backend models (and that
// this machine may lack), each with its PMU as the hardware describes it and
// the vPMU its host kernel would give a guest. PMU negotiation (pmu.proto)
// and the sim's CPUID and MSR model read these fields, never the prose.
#ifndef VMD_BACKEND_CPU_HOST_PROFILES_H_
#define VMD_BACKEND_CPU_HOST_PROFILES_H_

#include <cstdint>
#include <span>
#include "absl/strings/string_view.h"

#include "backend/cpu/cpu_vendor.h"
#include "backend/cpu/cpuid.h"

namespace vmd::cpu {

// The host's performance monitoring unit (Intel: CPUID 0xA, 0x1C and
// IA32_PERF_CAPABILITIES; AMD: PerfMonV2 in CPUID 0x80000022).
struct PmuDescription {
  uint32_t version = 0;  // architectural PMU version; 0: none
  uint32_t gp_counters = 0;
  uint32_t gp_counter_width = 0;
  uint32_t fixed_counters = 0;
  uint32_t fixed_counter_width = 0;
  // Architectural events, CPUID 0xA EBX layout: a set bit is an event the
  // host does NOT have; `event_mask_length` bits are defined.
  uint32_t unavailable_events = 0;
  uint32_t event_mask_length = 0;
  // Legacy LBR: PERF_CAPABILITIES.LBR_FMT and the stack depth; 0 depth: none.
  uint32_t lbr_format = 0;
  uint32_t lbr_depth = 0;
  // Arch LBR: CPUID 0x1C EAX[7:0] (bit n => depth 8*(n+1)); 0: none.
  uint32_t arch_lbr_depth_bitmap = 0;
  // PEBS: PERF_CAPABILITIES.PEBS_FMT, baseline (adaptive) PEBS; and whether
  // the host can give guests PEBS via DS (Ice Lake server on, seed 002).
  uint32_t pebs_format = 0;
  bool pebs_baseline = false;
  bool guest_pebs = false;
  // The host's own perf uses PEBS (guests then get none, seed 002).
  bool host_uses_pebs = false;
  // IA32_PERF_CAPABILITIES (MSR 0x345) as the host reports it.
  uint64_t perf_capabilities = 0;
};

struct HostProfile {
  absl::string_view name;
  absl::string_view description;
  CpuVendor vendor;
  uint32_t family;
  uint32_t model;
  uint32_t stepping;
  uint32_t max_vcpus;
  uint64_t tsc_khz;
  PmuDescription pmu;
  // The highest vPMU version this host's kernel gives a guest: upstream
  // KVM caps it at 2; a kernel with the v5 series (seed 004) gives 5.
  uint32_t kernel_vpmu_version;
  // Whether that kernel gives guests Arch LBR (seed 001; upstream never
  // merged it).
  bool kernel_arch_lbr = false;
  // IA32_ARCH_CAPABILITIES as KVM gives it to a guest (kvm_get_arch_capabilities()).
  uint64_t arch_capabilities = 0;
  // Set for a profile made from a host's KVM (the sim's `host`): its
  // KVM_GET_SUPPORTED_CPUID, used as the sim's base table.
  const CpuidTable* base_cpuid = nullptr;

  uint32_t cpuid_signature() const { return CpuidSignature(family, model, stepping); }
};

std::span<const HostProfile> HostProfiles();
// The profile used when a VM names none.
const HostProfile& DefaultHostProfile();
// nullptr when there is no profile of that name.
const HostProfile* FindHostProfile(absl::string_view name);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_HOST_PROFILES_H_

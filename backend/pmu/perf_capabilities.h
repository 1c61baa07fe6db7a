// KVM's rules for IA32_PERF_CAPABILITIES (MSR 0x345), which user space
// writes for the guest before it runs (vmx_set_msr and kvm_set_msr_common;
// selftest vmx_pmu_caps_test.c; seeds 000/003 for LBR_FMT, 002 for PEBS).
// The negotiation checks every value it grants against them, so that a
// grant is always one KVM would take.
#ifndef VMD_BACKEND_PMU_PERF_CAPABILITIES_H_
#define VMD_BACKEND_PMU_PERF_CAPABILITIES_H_

#include <cstdint>

#include "absl/status/status.h"

namespace vmd::pmu {

// IA32_PERF_CAPABILITIES fields (../shared/REFERENCE.md "vPMU").
inline constexpr uint64_t kPerfCapLbrFormat = 0x3f;          // [5:0]
inline constexpr uint64_t kPerfCapPebsTrap = 1ull << 6;
inline constexpr uint64_t kPerfCapPebsArchReg = 1ull << 7;
inline constexpr uint64_t kPerfCapPebsFormat = 0xfull << 8;  // [11:8]
inline constexpr uint64_t kPerfCapFreezeInSmm = 1ull << 12;
inline constexpr uint64_t kPerfCapFwWrites = 1ull << 13;
inline constexpr uint64_t kPerfCapPebsBaseline = 1ull << 14;
inline constexpr uint64_t kPerfCapPerfMetrics = 1ull << 15;
// PERF_CAP_PEBS_MASK: the bits a non-zero PEBS format must match.
inline constexpr uint64_t kPerfCapPebsMask = kPerfCapPebsTrap | kPerfCapPebsArchReg | kPerfCapPebsFormat |
                                             kPerfCapPebsBaseline;
// LBR_FMT 0x3f means Arch LBR (CPUID 0x1C describes it instead).
inline constexpr uint64_t kLbrFormatArch = 0x3f;

struct PerfCapabilitiesContext {
  // What KVM supports (kvm_caps.supported_perf_cap): 0 without a vPMU.
  uint64_t supported = 0;
  // The guest CPUID: PDCM (1:ECX[15]), DS (1:EDX[21]), DTES64 (1:ECX[2]).
  bool pdcm = false;
  bool ds = false;
  bool dtes64 = false;
  // cpuid_model_is_consistent(): the guest's family/model are the host's.
  bool model_is_host = false;
  // The vCPU has run (KVM_RUN once), and the value it runs with.
  bool has_run = false;
  uint64_t current = 0;
};

// OK when a host-initiated write of `value` succeeds; otherwise
// INVALID_ARGUMENT naming the rule it breaks. A guest WRMSR always #GPs.
absl::Status CheckPerfCapabilitiesWrite(uint64_t value, const PerfCapabilitiesContext& ctx);

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_PERF_CAPABILITIES_H_

// The guest CPUID of one vCPU, built the same way for kvm and sim: the
// backend's base table (KVM_GET_SUPPORTED_CPUID, or a host profile's table)
// adjusted for the VM's topology, the hypervisor bits, and, when the VM has
// a vPMU, the architectural PMU leaves.
#ifndef VMD_BACKEND_CPU_CPUID_BUILDER_H_
#define VMD_BACKEND_CPU_CPUID_BUILDER_H_

#include <cstdint>
#include <optional>
#include <span>

#include "backend/cpu/cpu_vendor.h"
#include "backend/cpu/cpuid.h"

namespace vmd::cpu {

// One package, one thread per core, vCPU id = x2APIC id.
struct VcpuTopology {
  uint32_t vcpu_id = 0;
  uint32_t vcpus = 1;
};

// The architectural PMU a guest is told about (CPUID 0xA, and 0x1C for
// Arch LBR; constants in ../shared/REFERENCE.md "vPMU").
struct GuestPmuLeaves {
  uint32_t version = 0;              // 0xA EAX[7:0]
  uint32_t gp_counters = 0;          // 0xA EAX[15:8]
  uint32_t gp_counter_width = 0;     // 0xA EAX[23:16]
  uint32_t event_mask_length = 0;    // 0xA EAX[31:24]
  uint32_t unavailable_events = 0;   // 0xA EBX: a set bit is an unavailable event
  uint32_t fixed_counter_bitmap = 0; // 0xA ECX (version 5 and later)
  uint32_t fixed_counters = 0;       // 0xA EDX[4:0]
  uint32_t fixed_counter_width = 0;  // 0xA EDX[12:5]
  bool pdcm = false;                 // CPUID.1:ECX.PDCM: PERF_CAPABILITIES exists
  bool ds = false;                   // CPUID.1:EDX.DS and
  bool dtes64 = false;               // CPUID.1:ECX.DTES64: PEBS via DS (seed 002)
  // Arch LBR (0x1C, and CPUID.7.0:EDX bit 19) when depth_bitmap != 0.
  uint32_t arch_lbr_depth_bitmap = 0;  // 0x1C EAX[7:0]: bit n => depth 8*(n+1)
  uint32_t arch_lbr_ebx = 0;           // CPL filter, branch filter, call stack
  uint32_t arch_lbr_ecx = 0;           // mispredict, timed LBRs, branch type
};

struct CpuidOptions {
  // Set: the PMU leaves say exactly this. Unset: the base table's PMU leaves
  // stay as they are (KVM's own vPMU description, or none).
  std::optional<GuestPmuLeaves> pmu;
  // Set: the vendor strings of leaves 0 and 0x80000000 say this vendor (the
  // rest stays the base's: e.g. an Intel-architectural vPMU guest on an
  // AMD host).
  std::optional<CpuVendor> vendor;
};

// vCPU `topology.vcpu_id`'s CPUID:
//   leaf 0x1: initial APIC id, logical processor count, HTT, x2APIC and
//             hypervisor bits;
//   leaf 0xB (and 0x1F when the base has it): SMT level of 1 thread, core
//             level of `vcpus` cores, x2APIC id in EDX; the max basic leaf is
//             raised to 0xB if needed;
//   leaf 0x4: cores per package (Intel);
//   leaves 0x80000001/0x80000008/0x8000001E: CmpLegacy, core count and APIC
//             id size, extended APIC id (AMD);
//   leaves 0xA/0x1C: `options.pmu`, when given;
//   leaves 0, 0x80000000: `options.vendor`'s strings, when given.
CpuidTable BuildVcpuCpuid(std::span<const CpuidEntry> base, const VcpuTopology& topology,
                          const CpuidOptions& options = {});

// Writes `pmu` into leaves 0xA and 0x1C (and the bits that announce them)
// of `table`, raising the maximum basic leaf when needed.
void SetPmuLeaves(CpuidTable& table, const GuestPmuLeaves& pmu);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_CPUID_BUILDER_H_

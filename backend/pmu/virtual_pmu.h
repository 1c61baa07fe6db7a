// The guest-visible register model of an Intel architectural PMU, versions
// 0-5, with legacy LBR, Arch LBR and PEBS MSRs, as KVM defines it
// (arch/x86/kvm/pmu.c, vmx/pmu_intel.c, x86.c) and the seed series extend it
// (000/003 guest LBR, 001 Arch LBR, 002 PEBS via DS, 004 vPMU v5). The
// engine traps every PMU MSR through the MSR filter and answers it here
// (this host has no in-kernel vPMU); the sim answers its guests here too.
//
// What it counts: only what the engine can count honestly, the vCPU's
// unhalted core cycles (event 0x3c/0x00, fixed counter 1) and reference
// cycles (0x3c/0x01, fixed counter 2), from an injected PmuClock. Every
// other event is accepted and never advances (the negotiation marks those
// events unavailable in CPUID 0xA EBX). OS and USR cannot be told apart, so
// a counter counts when either is set. No branch is ever recorded and no
// PEBS record is ever written: the LBR and DS MSRs are plain storage.
//
// Threads: one vCPU's calls come from one thread; different vCPUs' calls may
// run concurrently. Each vCPU has its own state and nothing mutable is
// shared, so no lock is taken. The clock must allow the same.
#ifndef VMD_BACKEND_PMU_VIRTUAL_PMU_H_
#define VMD_BACKEND_PMU_VIRTUAL_PMU_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "backend/pmu/pmu_msrs.h"

namespace vmd::pmu {

enum class LbrKind { kNone, kLegacy, kArch };
// kBasic: PEBS via DS (seed 002); kAdaptive: also PEBS_BASELINE, i.e.
// PEBS_DATA_CFG and PEBS on fixed counters.
enum class PebsKind { kNone, kBasic, kAdaptive };

// What the guest is given: the same numbers its CPUID 0xA / 0x1C and
// PERF_CAPABILITIES say. Values beyond the model are clamped: version to 5,
// GP counters to 8, fixed counters to 4, legacy LBR depth to 32.
struct VirtualPmuShape {
  uint32_t version = 0;               // CPUID.0xA.EAX[7:0], 0..5
  uint32_t gp_counters = 0;           // EAX[15:8], at most 8
  uint32_t gp_counter_width = 48;     // EAX[23:16]
  uint32_t fixed_counters = 0;        // EDX[4:0]
  uint32_t fixed_counter_bitmap = 0;  // ECX, meaningful for version >= 5 only
  uint32_t fixed_counter_width = 48;  // EDX[12:5]
  uint32_t unavailable_events = 0;    // EBX: set bit = architectural event unavailable
  bool pdcm = false;                  // CPUID.1:ECX.PDCM: PERF_CAPABILITIES exists
  uint64_t perf_capabilities = 0;     // what a guest RDMSR 0x345 returns (FW_WRITES bit 13 enables 0x4c1+i)
  LbrKind lbr = LbrKind::kNone;
  uint32_t lbr_depth = 0;              // legacy LBR stack depth (e.g. 32)
  uint32_t arch_lbr_depth_bitmap = 0;  // CPUID 0x1C EAX[7:0]: bit n => depth 8*(n+1)
  uint32_t arch_lbr_capabilities = kArchLbrEbxCpl | kArchLbrEbxFilter | kArchLbrEbxCallStack;  // 0x1C EBX
  PebsKind pebs = PebsKind::kNone;
};

// "Fixed counter i exists iff ECX[i] || EDX[4:0] > i" (ECX only for version
// >= 5; seed 004 patch 6). KVM emulates fixed counters only from version 2
// on (intel_pmu_refresh: version 1 has none; pmu_counters_test "Fixed
// counters require Architectural vPMU Version 2+"), and this model holds 4.
bool FixedCounterExists(const VirtualPmuShape& shape, uint32_t i);

// What the engine can count honestly: the vCPU's cycles while it runs (core
// cycles at the nominal rate) and reference cycles (TSC rate). Injected, so
// tests drive time. Called from the vCPU's own thread.
class PmuClock {
 public:
  virtual ~PmuClock() = default;
  virtual uint64_t CoreCycles(uint32_t vcpu) = 0;
  virtual uint64_t RefCycles(uint32_t vcpu) = 0;
};

class VirtualPmu {
 public:
  // `clock` must outlive this object.
  VirtualPmu(const VirtualPmuShape& shape, uint32_t vcpus, PmuClock* clock);

  VirtualPmu(const VirtualPmu&) = delete;
  VirtualPmu& operator=(const VirtualPmu&) = delete;

  // Every MSR index range this PMU answers, as (first, count), sorted: the
  // same for every shape, since it includes what a guest must #GP on (absent
  // counters, LBR MSRs without LBR, global MSRs below version 2, ...) so
  // that KVM never answers them itself.
  std::vector<std::pair<uint32_t, uint32_t>> MsrRanges() const;

  // A guest RDMSR / WRMSR on `vcpu`: nullopt / false is a #GP. So is any
  // access with a `vcpu` out of range.
  std::optional<uint64_t> Read(uint32_t vcpu, uint32_t index);
  bool Write(uint32_t vcpu, uint32_t index, uint64_t value);

  // RDPMC with ECX = `ecx` (intel_rdpmc_ecx_to_pmc): nullopt is a #GP. The
  // caller checks CR4.PCE and the CPL first (kvm_pmu_rdpmc) and handles the
  // VMware backdoor PMCs if it offers them.
  std::optional<uint64_t> Rdpmc(uint32_t vcpu, uint32_t ecx);

  // Whether a counter with its PMI bit set overflowed since the last call
  // (the engine then raises the vector the guest programmed in LVTPC).
  bool TakePmi(uint32_t vcpu);

  // Per-vCPU state for snapshots: every MSR of this shape whose value
  // differs from reset, counters as of now (take the pending PMI first: it
  // is not an MSR). Restore starts from reset and writes them host-initiated:
  // no guest checks (GLOBAL_STATUS may be set, counters are not sign-
  // extended), indices this shape lacks are ignored, values are cut to
  // their register's width and defined bits.
  std::map<uint32_t, uint64_t> Save(uint32_t vcpu) const;
  void Restore(uint32_t vcpu, const std::map<uint32_t, uint64_t>& values);

  const VirtualPmuShape& shape() const { return shape_; }

 private:
  enum class Source : uint8_t { kNone, kCore, kRef };
  struct Counter {
    uint64_t value = 0;  // as of `since`, cut to the width
    uint64_t since = 0;  // the clock reading `value` belongs to (when counting)
    Source source = Source::kNone;
  };
  struct LbrRecord {
    uint64_t from = 0, to = 0, info = 0;
  };
  // Everything one vCPU's PMU holds.
  struct VcpuState {
    std::array<uint64_t, kGpCounterSlots> eventsel{};
    std::array<Counter, kGpCounterSlots> gp{};
    std::array<Counter, kFixedCounterSlots> fixed{};
    uint64_t fixed_ctr_ctrl = 0;
    uint64_t global_ctrl = 0;
    uint64_t global_status = 0;
    uint64_t debugctl = 0;
    uint64_t pebs_enable = 0, ds_area = 0, pebs_data_cfg = 0;
    uint64_t lbr_select = 0, lbr_tos = 0;
    uint64_t arch_lbr_ctl = 0, arch_lbr_depth = 0;
    std::array<LbrRecord, kArchLbrSlots> lbr{};  // legacy or Arch LBR records
    bool pmi_pending = false;
  };

  // Masks and facts derived once from the shape (read-only afterwards).
  struct Derived {
    uint32_t version = 0, gp = 0;
    uint64_t gp_mask = 0, fixed_mask = 0;
    uint32_t fixed_exists = 0;  // bit i: fixed counter i exists
    uint64_t caps = 0;          // PERF_CAPABILITIES as KVM sees it (0 without PDCM)
    bool fw_writes = false;
    uint64_t evtsel_reserved = 0, fixed_ctrl_reserved = 0, global_ctrl_reserved = 0;
    uint64_t global_status_reserved = 0, pebs_enable_reserved = 0;
    bool legacy_lbr = false, arch_lbr = false, lbr_info = false, pebs = false, adaptive = false;
    uint32_t lbr_depth = 0;     // legacy depth
    uint32_t arch_lbr_max = 0;  // the maximum enumerated Arch LBR depth
  };
  static Derived Derive(const VirtualPmuShape& shape);

  VcpuState ResetState() const;
  uint64_t Now(uint32_t vcpu, Source source) const;
  Source WantedSource(const VcpuState& st, bool fixed, uint32_t i) const;
  // Brings every counting counter up to now, recording overflows (the lazy
  // overflow detection every access and TakePmi run first).
  void Sync(uint32_t vcpu, VcpuState& st) const;
  // Re-reads which counters count and from which clock, after a write may
  // have changed the controls; a counter that starts counting starts now.
  void Reevaluate(uint32_t vcpu, VcpuState& st) const;
  void Overflow(VcpuState& st, uint32_t idx, bool pmi) const;
  void DeliverPmi(VcpuState& st) const;
  bool LbrEnabled(const VcpuState& st) const;
  uint64_t Inuse(const VcpuState& st) const;

  std::optional<uint64_t> ReadMsr(VcpuState& st, uint32_t index) const;
  bool WriteMsr(VcpuState& st, uint32_t index, uint64_t value) const;
  bool WriteDebugCtl(VcpuState& st, uint64_t value) const;
  bool WriteArchLbrCtl(VcpuState& st, uint64_t value) const;
  // The stored field behind an LBR record MSR (FROM/TO/INFO, legacy or
  // Arch), or null when this shape has no such MSR.
  uint64_t* LbrSlot(VcpuState& st, uint32_t index) const;
  void RestoreOne(VcpuState& st, uint32_t index, uint64_t value) const;

  const VirtualPmuShape shape_;
  const Derived d_;
  PmuClock* const clock_;
  std::vector<VcpuState> vcpus_;  // sized once; element i only touched by vCPU i's thread
};

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_VIRTUAL_PMU_H_

// MSR indices and bit fields of the Intel architectural PMU, LBR, Arch LBR
// and PEBS, as the virtual PMU (virtual_pmu.h) answers them. Values are from
// Linux's arch/x86/include/asm/msr-index.h and asm/perf_event.h, the Arch
// LBR series (seed 001, "KVM: vmx/pmu: Emulate MSR_ARCH_LBR_CTL", v11) and
// the vPMU v5 series (seed 004). The names differ from perf_capabilities.h's
// on purpose: both headers live in vmd::pmu.
#ifndef VMD_BACKEND_PMU_PMU_MSRS_H_
#define VMD_BACKEND_PMU_PMU_MSRS_H_

#include <cstdint>

namespace vmd::pmu {

// How many of each the model holds: KVM_INTEL_PMC_MAX_GENERIC (8) GP
// counters; fixed counters 0..3 (instructions, cycles, reference cycles,
// topdown slots); the legacy LBR MSR blocks hold 32 entries; Arch LBR depths
// go up to 8 * 8 = 64 (CPUID 0x1C EAX[7:0]).
inline constexpr uint32_t kGpCounterSlots = 8;
inline constexpr uint32_t kFixedCounterSlots = 4;
inline constexpr uint32_t kLegacyLbrSlots = 32;
inline constexpr uint32_t kArchLbrSlots = 64;
inline constexpr uint32_t kMaxModelledVersion = 5;

// Counters and their controls.
inline constexpr uint32_t kMsrPerfCtr0 = 0xc1;          // MSR_IA32_PERFCTR0 (legacy alias, 32-bit writes)
inline constexpr uint32_t kMsrEventSel0 = 0x186;        // MSR_P6_EVNTSEL0 (IA32_PERFEVTSEL0)
inline constexpr uint32_t kMsrFullPmc0 = 0x4c1;         // MSR_IA32_PMC0 (full-width alias)
inline constexpr uint32_t kMsrFixedCtr0 = 0x309;        // MSR_CORE_PERF_FIXED_CTR0
inline constexpr uint32_t kMsrPerfCaps = 0x345;         // MSR_IA32_PERF_CAPABILITIES
inline constexpr uint32_t kMsrFixedCtrCtrl = 0x38d;     // MSR_CORE_PERF_FIXED_CTR_CTRL
inline constexpr uint32_t kMsrGlobalStatus = 0x38e;     // MSR_CORE_PERF_GLOBAL_STATUS
inline constexpr uint32_t kMsrGlobalCtrl = 0x38f;       // MSR_CORE_PERF_GLOBAL_CTRL
inline constexpr uint32_t kMsrGlobalOvfCtrl = 0x390;    // MSR_CORE_PERF_GLOBAL_OVF_CTRL, v4: STATUS_RESET
inline constexpr uint32_t kMsrGlobalStatusSet = 0x391;  // MSR_CORE_PERF_GLOBAL_STATUS_SET (v4+)
inline constexpr uint32_t kMsrGlobalInuse = 0x392;      // MSR_CORE_PERF_GLOBAL_INUSE (v4+)

// PEBS.
inline constexpr uint32_t kMsrPebsEnable = 0x3f1;   // MSR_IA32_PEBS_ENABLE
inline constexpr uint32_t kMsrPebsDataCfg = 0x3f2;  // MSR_PEBS_DATA_CFG (adaptive PEBS)
inline constexpr uint32_t kMsrPebsLdLat = 0x3f6;    // MSR_PEBS_LD_LAT_THRESHOLD: KVM does not emulate it
inline constexpr uint32_t kMsrDsArea = 0x600;       // MSR_IA32_DS_AREA

// Legacy (model-specific) LBR, Nehalem and later (MSR_LBR_NHM_FROM/TO).
inline constexpr uint32_t kMsrLbrSelect = 0x1c8;  // MSR_LBR_SELECT
inline constexpr uint32_t kMsrLbrTos = 0x1c9;     // MSR_LBR_TOS
inline constexpr uint32_t kMsrDebugCtl = 0x1d9;   // MSR_IA32_DEBUGCTLMSR
inline constexpr uint32_t kMsrLbrFrom0 = 0x680;   // MSR_LBR_NHM_FROM
inline constexpr uint32_t kMsrLbrTo0 = 0x6c0;     // MSR_LBR_NHM_TO
inline constexpr uint32_t kMsrLbrInfo0 = 0xdc0;   // MSR_LBR_INFO_0

// Architectural LBR.
inline constexpr uint32_t kMsrArchLbrCtl = 0x14ce;    // MSR_ARCH_LBR_CTL
inline constexpr uint32_t kMsrArchLbrDepth = 0x14cf;  // MSR_ARCH_LBR_DEPTH
inline constexpr uint32_t kMsrArchLbrFrom0 = 0x1500;  // MSR_ARCH_LBR_FROM_0
inline constexpr uint32_t kMsrArchLbrTo0 = 0x1600;    // MSR_ARCH_LBR_TO_0
inline constexpr uint32_t kMsrArchLbrInfo0 = 0x1200;  // MSR_ARCH_LBR_INFO_0

// IA32_PERFEVTSELx (asm/perf_event.h ARCH_PERFMON_EVENTSEL_*).
inline constexpr uint64_t kEvtSelEvent = 0xff;
inline constexpr uint64_t kEvtSelUmask = 0xff00;
inline constexpr uint64_t kEvtSelUsr = 1ull << 16;
inline constexpr uint64_t kEvtSelOs = 1ull << 17;
inline constexpr uint64_t kEvtSelInt = 1ull << 20;
inline constexpr uint64_t kEvtSelAnyThread = 1ull << 21;
inline constexpr uint64_t kEvtSelEnable = 1ull << 22;
inline constexpr uint64_t kEvtSelAdaptive = 1ull << 34;  // ICL_EVENTSEL_ADAPTIVE
// intel_pmu_refresh(): pmu->reserved_bits = 0xffffffff00200000, i.e. bits
// 63:32 and AnyThread (21). TSX's IN_TX/IN_TX_CP (32, 33) are given back
// only with HLE/RTM, which no shape here grants.
inline constexpr uint64_t kEvtSelReserved = 0xffffffff00200000ull;

// The architectural events the engine can count (intel_arch_events[]).
inline constexpr uint32_t kEventCoreCycles = 0x3c;  // umask 0x00: unhalted core cycles
inline constexpr uint32_t kUmaskRefCycles = 0x01;   // 0x3c/0x01: unhalted reference cycles
// CPUID 0xA EBX bit for each (set = unavailable).
inline constexpr uint32_t kEbxCoreCycles = 1u << 0;
inline constexpr uint32_t kEbxRefCycles = 1u << 2;

// IA32_FIXED_CTR_CTRL: 4 bits per counter (INTEL_FIXED_0_KERNEL, _USER,
// AnyThread (bit 2, which KVM keeps reserved), _ENABLE_PMI), plus the
// adaptive PEBS bit 32 + 4i (ICL_FIXED_0_ADAPTIVE).
inline constexpr uint64_t kFixedKernel = 0x1;
inline constexpr uint64_t kFixedUser = 0x2;
inline constexpr uint64_t kFixedAnyThread = 0x4;
inline constexpr uint64_t kFixedPmi = 0x8;
inline constexpr uint64_t kFixedAllowed = kFixedKernel | kFixedUser | kFixedPmi;  // KVM's 0xb
inline constexpr uint32_t kFixedAdaptiveShift = 32;
inline constexpr uint64_t FixedCtrlField(uint64_t bits, uint32_t i) { return bits << (4 * i); }

// IA32_PERF_GLOBAL_STATUS / _CTRL: GP counter i is bit i, fixed counter i
// is bit 32 + i (INTEL_PMC_IDX_FIXED).
inline constexpr uint32_t kFixedIdxBase = 32;
inline constexpr uint64_t kStatusLbrFrz = 1ull << 58;    // MSR_CORE_PERF_GLOBAL_OVF_CTRL_LBR_FREEZE (seed 004)
inline constexpr uint64_t kStatusCtrFrz = 1ull << 59;    // SDM: CTR_Frz (streamlined freeze, v4)
inline constexpr uint64_t kStatusOvfBuf = 1ull << 62;    // MSR_CORE_PERF_GLOBAL_OVF_CTRL_OVF_BUF
inline constexpr uint64_t kStatusCondChgd = 1ull << 63;  // MSR_CORE_PERF_GLOBAL_OVF_CTRL_COND_CHGD
inline constexpr uint64_t kInusePmi = 1ull << 63;        // MSR_CORE_PERF_GLOBAL_INUSE_PMI (seed 004)

// IA32_PERF_CAPABILITIES fields: perf_capabilities.h.
// LBR formats with LBR_INFO MSRs: LBR_FORMAT_INFO (5) and LBR_FORMAT_INFO2
// (7) set x86_pmu.lbr_has_info (arch/x86/events/intel/lbr.c
// intel_pmu_lbr_init); LBR_FORMAT_TIME (6) has none.
inline constexpr uint64_t kLbrFormatInfo = 5;
inline constexpr uint64_t kLbrFormatInfo2 = 7;

// IA32_DEBUGCTL.
inline constexpr uint64_t kDebugCtlLbr = 1ull << 0;                  // DEBUGCTLMSR_LBR
inline constexpr uint64_t kDebugCtlBtf = 1ull << 1;                  // DEBUGCTLMSR_BTF
inline constexpr uint64_t kDebugCtlFreezeLbrsOnPmi = 1ull << 11;     // DEBUGCTLMSR_FREEZE_LBRS_ON_PMI
inline constexpr uint64_t kDebugCtlFreezePerfmonOnPmi = 1ull << 12;  // not in vmx_get_supported_debugctl()

// MSR_ARCH_LBR_CTL: LBREn (0), CPL (1-2), call stack (3), branch filter
// (16-22): KVM_ARCH_LBR_CTL_MASK = ARCH_LBR_CTL_MASK (0x7f000e) | LBREN.
inline constexpr uint64_t kArchLbrCtlEnable = 1ull << 0;
inline constexpr uint64_t kArchLbrCtlCpl = 0x3ull << 1;
inline constexpr uint64_t kArchLbrCtlStack = 1ull << 3;
inline constexpr uint64_t kArchLbrCtlFilter = 0x7full << 16;
inline constexpr uint64_t kArchLbrCtlValid = 0x7f000eull | kArchLbrCtlEnable;
// CPUID 0x1C EBX: CPL filtering (0), branch filtering (1), call stack (2).
inline constexpr uint32_t kArchLbrEbxCpl = 1u << 0;
inline constexpr uint32_t kArchLbrEbxFilter = 1u << 1;
inline constexpr uint32_t kArchLbrEbxCallStack = 1u << 2;

// MSR_PEBS_DATA_CFG: intel_pmu_refresh() pebs_data_cfg_mask = ~0xff00000f.
inline constexpr uint64_t kPebsDataCfgValid = 0xff00000full;

// RDPMC ECX (pmu_intel.c): bits 31:16 are the type (0 = GP, bit 30 =
// fixed); bits 15:0 the index. Bit 31 ("fast") is a type no architectural
// PMU has, so it #GPs.
inline constexpr uint32_t kRdpmcTypeMask = 0xffff0000u;
inline constexpr uint32_t kRdpmcIndexMask = 0x0000ffffu;
inline constexpr uint32_t kRdpmcFixed = 1u << 30;
inline constexpr uint32_t kRdpmcFast = 1u << 31;

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_PMU_MSRS_H_

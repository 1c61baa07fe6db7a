// MSR indexes used by the MSR policy library: the presets, the handlers and
// the x2APIC exemption. Values are from the Intel SDM vol. 4, the AMD APM
// vol. 2, and Linux's arch/x86/include/asm/msr-index.h and
// arch/x86/include/uapi/asm/kvm_para.h.
#ifndef VMD_BACKEND_MSR_MSR_INDEX_H_
#define VMD_BACKEND_MSR_MSR_INDEX_H_

#include <cstdint>

namespace vmd::msr {

// x2APIC MSRs. KVM's kvm_msr_allowed() returns "allowed" for them before it
// looks at the filter, so no filter range can deny them (arch/x86/kvm/x86.c).
inline constexpr uint32_t kX2apicFirst = 0x800;
inline constexpr uint32_t kX2apicLast = 0x8ff;
inline constexpr bool IsX2apicMsr(uint32_t index) { return index >= kX2apicFirst && index <= kX2apicLast; }

// Architectural and common MSRs.
inline constexpr uint32_t kMsrTsc = 0x10;               // IA32_TIME_STAMP_COUNTER
inline constexpr uint32_t kMsrKvmWallClockOld = 0x11;   // MSR_KVM_WALL_CLOCK (legacy)
inline constexpr uint32_t kMsrKvmSystemTimeOld = 0x12;  // MSR_KVM_SYSTEM_TIME (legacy)
inline constexpr uint32_t kMsrApicBase = 0x1b;          // IA32_APIC_BASE
inline constexpr uint32_t kMsrCoreThreadCount = 0x35;   // MSR_CORE_THREAD_COUNT (the seed's example)
inline constexpr uint32_t kMsrFeatureControl = 0x3a;    // IA32_FEATURE_CONTROL (Intel)
inline constexpr uint32_t kMsrTscAdjust = 0x3b;         // IA32_TSC_ADJUST
inline constexpr uint32_t kMsrSpecCtrl = 0x48;          // IA32_SPEC_CTRL
inline constexpr uint32_t kMsrPredCmd = 0x49;           // IA32_PRED_CMD
inline constexpr uint32_t kMsrUcodeRev = 0x8b;          // IA32_BIOS_SIGN_ID / AMD PATCH_LEVEL
inline constexpr uint32_t kMsrSgxLePubKeyHash0 = 0x8c;  // IA32_SGXLEPUBKEYHASH0..3 (Intel)
inline constexpr uint32_t kMsrSgxLePubKeyHash3 = 0x8f;
inline constexpr uint32_t kMsrPmc0 = 0xc1;  // IA32_PMC0..7 (Intel architectural PMU)
inline constexpr uint32_t kMsrPmc7 = 0xc8;
inline constexpr uint32_t kMsrPlatformInfo = 0xce;          // MSR_PLATFORM_INFO
inline constexpr uint32_t kMsrUmwaitControl = 0xe1;         // IA32_UMWAIT_CONTROL (Intel)
inline constexpr uint32_t kMsrMtrrCap = 0xfe;               // IA32_MTRRCAP
inline constexpr uint32_t kMsrArchCapabilities = 0x10a;     // IA32_ARCH_CAPABILITIES
inline constexpr uint32_t kMsrFlushCmd = 0x10b;             // IA32_FLUSH_CMD
inline constexpr uint32_t kMsrTsxCtrl = 0x122;              // IA32_TSX_CTRL (Intel)
inline constexpr uint32_t kMsrMiscFeaturesEnables = 0x140;  // MSR_MISC_FEATURES_ENABLES (CPUID faulting)
inline constexpr uint32_t kMsrSysenterCs = 0x174;           // IA32_SYSENTER_CS
inline constexpr uint32_t kMsrSysenterEip = 0x176;          // IA32_SYSENTER_EIP (CS, ESP, EIP)
inline constexpr uint32_t kMsrMcgCap = 0x179;               // IA32_MCG_CAP
inline constexpr uint32_t kMsrMcgStatus = 0x17a;            // IA32_MCG_STATUS
inline constexpr uint32_t kMsrMcgCtl = 0x17b;               // IA32_MCG_CTL
inline constexpr uint32_t kMsrPerfEvtSel0 = 0x186;          // IA32_PERFEVTSEL0..7 (Intel architectural PMU)
inline constexpr uint32_t kMsrPerfEvtSel7 = 0x18d;
inline constexpr uint32_t kMsrMiscEnable = 0x1a0;     // IA32_MISC_ENABLE
inline constexpr uint32_t kMsrLbrSelect = 0x1c8;      // MSR_LBR_SELECT (Intel)
inline constexpr uint32_t kMsrLbrTos = 0x1c9;         // MSR_LBR_TOS (Intel)
inline constexpr uint32_t kMsrDebugCtl = 0x1d9;       // IA32_DEBUGCTL
inline constexpr uint32_t kMsrMtrrPhysBase0 = 0x200;  // IA32_MTRR_PHYSBASE0..PHYSMASK7
inline constexpr uint32_t kMsrMtrrPhysMask7 = 0x20f;
inline constexpr uint32_t kMsrMtrrFix64k = 0x250;       // IA32_MTRR_FIX64K_00000
inline constexpr uint32_t kMsrMtrrFix16k80000 = 0x258;  // IA32_MTRR_FIX16K_80000, _A0000
inline constexpr uint32_t kMsrMtrrFix16kA0000 = 0x259;
inline constexpr uint32_t kMsrMtrrFix4kC0000 = 0x268;  // IA32_MTRR_FIX4K_C0000 .. _F8000
inline constexpr uint32_t kMsrMtrrFix4kF8000 = 0x26f;
inline constexpr uint32_t kMsrPat = 0x277;          // IA32_PAT
inline constexpr uint32_t kMsrMtrrDefType = 0x2ff;  // IA32_MTRR_DEF_TYPE
inline constexpr uint32_t kMsrFixedCtr0 = 0x309;    // IA32_FIXED_CTR0..2 (Intel PMU)
inline constexpr uint32_t kMsrFixedCtr2 = 0x30b;
inline constexpr uint32_t kMsrPerfCapabilities = 0x345;   // IA32_PERF_CAPABILITIES (Intel)
inline constexpr uint32_t kMsrFixedCtrCtrl = 0x38d;       // IA32_FIXED_CTR_CTRL (Intel PMU)
inline constexpr uint32_t kMsrPerfGlobalOvfCtrl = 0x390;  // ..GLOBAL_STATUS, _CTRL, _OVF_CTRL
inline constexpr uint32_t kMsrPebsEnable = 0x3f1;         // IA32_PEBS_ENABLE (Intel)
inline constexpr uint32_t kMsrPebsDataCfg = 0x3f2;        // MSR_PEBS_DATA_CFG (Intel)
inline constexpr uint32_t kMsrMc0Ctl = 0x400;             // IA32_MC0_CTL; 4 MSRs per bank
inline constexpr uint32_t kMsrMcLast = 0x47f;             // bank 31 MISC: KVM emulates up to 32 banks
inline constexpr uint32_t kMsrVmxBasic = 0x480;           // IA32_VMX_BASIC .. IA32_VMX_VMFUNC (Intel)
inline constexpr uint32_t kMsrVmxVmfunc = 0x491;
inline constexpr uint32_t kMsrRtitOutputBase = 0x560;  // IA32_RTIT_OUTPUT_BASE, _MASK (Intel PT)
inline constexpr uint32_t kMsrRtitOutputMask = 0x561;
inline constexpr uint32_t kMsrRtitCtl = 0x570;  // IA32_RTIT_CTL, _STATUS, _CR3_MATCH
inline constexpr uint32_t kMsrRtitCr3Match = 0x572;
inline constexpr uint32_t kMsrRtitAddr0A = 0x580;  // IA32_RTIT_ADDR0_A .. ADDR3_B
inline constexpr uint32_t kMsrRtitAddr3B = 0x587;
inline constexpr uint32_t kMsrDsArea = 0x600;    // IA32_DS_AREA (Intel PEBS/BTS)
inline constexpr uint32_t kMsrLbrFrom0 = 0x680;  // MSR_LASTBRANCH_0_FROM_IP .. 31 (Intel)
inline constexpr uint32_t kMsrLbrFrom31 = 0x69f;
inline constexpr uint32_t kMsrLbrTo0 = 0x6c0;  // MSR_LASTBRANCH_0_TO_IP .. 31 (Intel)
inline constexpr uint32_t kMsrLbrTo31 = 0x6df;
inline constexpr uint32_t kMsrTscDeadline = 0x6e0;  // IA32_TSC_DEADLINE
inline constexpr uint32_t kMsrXss = 0xda0;          // IA32_XSS
inline constexpr uint32_t kMsrLbrInfo0 = 0xdc0;     // MSR_LBR_INFO_0 .. 31 (Intel)
inline constexpr uint32_t kMsrLbrInfo31 = 0xddf;
inline constexpr uint32_t kMsrArchLbrInfo0 = 0x1200;  // MSR_ARCH_LBR_INFO_0 .. 31 (Intel)
inline constexpr uint32_t kMsrArchLbrInfo31 = 0x121f;
inline constexpr uint32_t kMsrArchLbrCtl = 0x14ce;  // MSR_ARCH_LBR_CTL, _DEPTH (Intel)
inline constexpr uint32_t kMsrArchLbrDepth = 0x14cf;
inline constexpr uint32_t kMsrArchLbrFrom0 = 0x1500;  // MSR_ARCH_LBR_FROM_0 .. 31 (Intel)
inline constexpr uint32_t kMsrArchLbrFrom31 = 0x151f;
inline constexpr uint32_t kMsrArchLbrTo0 = 0x1600;  // MSR_ARCH_LBR_TO_0 .. 31 (Intel)
inline constexpr uint32_t kMsrArchLbrTo31 = 0x161f;

// KVM paravirtual MSRs (uapi/asm/kvm_para.h): MSR_KVM_WALL_CLOCK_NEW
// (0x4b564d00) .. MSR_KVM_MIGRATION_CONTROL (0x4b564d08); the block is
// reserved for KVM up to 0x4b564dff.
inline constexpr uint32_t kMsrKvmParavirtFirst = 0x4b564d00;
inline constexpr uint32_t kMsrKvmParavirtLast = 0x4b564dff;

// x86-64 MSRs (both vendors).
inline constexpr uint32_t kMsrEfer = 0xc0000080;
inline constexpr uint32_t kMsrStar = 0xc0000081;
inline constexpr uint32_t kMsrLstar = 0xc0000082;
inline constexpr uint32_t kMsrCstar = 0xc0000083;
inline constexpr uint32_t kMsrSfmask = 0xc0000084;  // MSR_SYSCALL_MASK
inline constexpr uint32_t kMsrFsBase = 0xc0000100;
inline constexpr uint32_t kMsrGsBase = 0xc0000101;
inline constexpr uint32_t kMsrKernelGsBase = 0xc0000102;
inline constexpr uint32_t kMsrTscAux = 0xc0000103;

// AMD-only MSRs.
inline constexpr uint32_t kMsrAmdTscRatio = 0xc0000104;             // MSR_AMD64_TSC_RATIO (SVM)
inline constexpr uint32_t kMsrAmdPerfGlobalStatus = 0xc0000300;     // PerfMonV2 GLOBAL_STATUS, _CTL,
inline constexpr uint32_t kMsrAmdPerfGlobalStatusSet = 0xc0000303;  // _STATUS_CLR, _STATUS_SET
inline constexpr uint32_t kMsrAmdFirst = 0xc0010000;                // K7 EVNTSEL0: start of the AMD block
inline constexpr uint32_t kMsrAmdLast = 0xc001ffff;                 // end of the AMD model-specific block
inline constexpr uint32_t kMsrAmdSyscfg = 0xc0010010;               // MSR_AMD64_SYSCFG
inline constexpr uint32_t kMsrAmdHwcr = 0xc0010015;                 // MSR_K7_HWCR
inline constexpr uint32_t kMsrAmdVmCr = 0xc0010114;                 // MSR_VM_CR
inline constexpr uint32_t kMsrAmdVirtSpecCtrl = 0xc001011f;         // MSR_AMD64_VIRT_SPEC_CTRL
inline constexpr uint32_t kMsrAmdOsvwIdLength = 0xc0010140;         // MSR_AMD64_OSVW_ID_LENGTH, _STATUS
inline constexpr uint32_t kMsrAmdOsvwStatus = 0xc0010141;
inline constexpr uint32_t kMsrAmdDeCfg = 0xc0011029;  // MSR_AMD64_DE_CFG

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_INDEX_H_

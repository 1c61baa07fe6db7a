#include "backend/msr/msr_presets.h"

#include <cstdint>

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"

namespace vmd::msr {
namespace {

constexpr v1::MsrAccess kR = v1::MSR_ACCESS_READ;
constexpr v1::MsrAccess kW = v1::MSR_ACCESS_WRITE;
constexpr v1::MsrAccess kRW = v1::MSR_ACCESS_READ_WRITE;

struct PresetRule {
  uint32_t first;
  uint32_t last;  // inclusive
  v1::MsrAccess access;
};

void AddRules(v1::MsrPolicy& policy, const std::vector<PresetRule>& rules, v1::MsrAction action) {
  for (const PresetRule& r : rules) {
    v1::MsrRule* rule = policy.add_rules();
    rule->set_first(r.first);
    rule->set_count(r.last - r.first + 1);
    rule->set_access(r.access);
    rule->set_action(action);
  }
}

// What any x86-64 guest OS touches, both vendors. x2APIC MSRs (0x800-0x8ff)
// need no rule: KVM never filters them.
const std::vector<PresetRule>& StrictCommon() {
  static const auto* rules = new std::vector<PresetRule>{
      {kMsrTsc, kMsrTsc, kRW},                           // TSC: clocksource, TSC sync on boot
      {kMsrKvmWallClockOld, kMsrKvmSystemTimeOld, kRW},  // legacy kvmclock (older guests)
      {kMsrApicBase, kMsrApicBase, kRW},                 // APIC_BASE: xAPIC/x2APIC mode, BSP flag
      {kMsrTscAdjust, kMsrTscAdjust, kRW},               // TSC_ADJUST: TSC sync across vCPUs
      {kMsrSpecCtrl, kMsrSpecCtrl, kRW},                 // SPEC_CTRL: IBRS/STIBP/SSBD mitigations
      {kMsrPredCmd, kMsrPredCmd, kW},                    // PRED_CMD: IBPB on context switch (write-only)
      {kMsrUcodeRev, kMsrUcodeRev, kRW},                 // BIOS_SIGN_ID: microcode revision (write 0, read)
      {kMsrMtrrCap, kMsrMtrrCap, kR},                    // MTRRCAP: MTRR enumeration (read-only)
      {kMsrArchCapabilities, kMsrArchCapabilities, kR},  // ARCH_CAPABILITIES: vulnerability bits (read-only)
      {kMsrFlushCmd, kMsrFlushCmd, kW},                  // FLUSH_CMD: L1D flush (write-only)
      {kMsrSysenterCs, kMsrSysenterEip, kRW},            // SYSENTER_CS/ESP/EIP: 32-bit syscalls
      {kMsrMcgCap, kMsrMcgCap, kR},                      // MCG_CAP: machine-check bank count (read-only)
      {kMsrMcgStatus, kMsrMcgCtl, kRW},                  // MCG_STATUS, MCG_CTL: machine-check init
      {kMsrMiscEnable, kMsrMiscEnable, kRW},             // MISC_ENABLE: fast strings, MWAIT, XD
      {kMsrDebugCtl, kMsrDebugCtl, kRW},                 // DEBUGCTL: cleared on boot, BTF single-step
      {kMsrMtrrPhysBase0, kMsrMtrrPhysMask7, kRW},       // variable MTRRs 0-7 (KVM has 8)
      {kMsrMtrrFix64k, kMsrMtrrFix64k, kRW},             // fixed MTRR 64K_00000
      {kMsrMtrrFix16k80000, kMsrMtrrFix16kA0000, kRW},   // fixed MTRRs 16K_80000, 16K_A0000
      {kMsrMtrrFix4kC0000, kMsrMtrrFix4kF8000, kRW},     // fixed MTRRs 4K_C0000 .. 4K_F8000
      {kMsrPat, kMsrPat, kRW},                           // PAT: page attribute table
      {kMsrMtrrDefType, kMsrMtrrDefType, kRW},           // MTRR_DEF_TYPE
      {kMsrMc0Ctl, kMsrMcLast, kRW},                     // MCi_CTL/STATUS/ADDR/MISC, 32 banks
      {kMsrTscDeadline, kMsrTscDeadline, kRW},           // TSC_DEADLINE: LAPIC timer in deadline mode
      {kMsrXss, kMsrXss, kRW},                           // XSS: supervisor XSAVE state
      {kMsrKvmParavirtFirst, kMsrKvmParavirtLast, kRW},  // kvmclock, steal time, async PF, PV EOI, ...
      {kMsrEfer, kMsrSfmask, kRW},                       // EFER, STAR, LSTAR, CSTAR, SFMASK: long mode, syscall
      {kMsrFsBase, kMsrTscAux, kRW},                     // FS/GS/KERNEL_GS base (SWAPGS), TSC_AUX (RDTSCP)
  };
  return *rules;
}

const std::vector<PresetRule>& StrictIntel() {
  static const auto* rules = new std::vector<PresetRule>{
      {kMsrFeatureControl, kMsrFeatureControl, kRW},            // FEATURE_CONTROL: read; locked on boot if unlocked
      {kMsrPlatformInfo, kMsrPlatformInfo, kR},                 // PLATFORM_INFO: CPUID faulting support (read)
      {kMsrMiscFeaturesEnables, kMsrMiscFeaturesEnables, kRW},  // MISC_FEATURES_ENABLES: CPUID faulting
  };
  return *rules;
}

const std::vector<PresetRule>& StrictAmd() {
  static const auto* rules = new std::vector<PresetRule>{
      {kMsrAmdSyscfg, kMsrAmdSyscfg, kR},               // SYSCFG: memory encryption bit (read)
      {kMsrAmdHwcr, kMsrAmdHwcr, kRW},                  // HWCR: read and adjusted on boot
      {kMsrAmdVirtSpecCtrl, kMsrAmdVirtSpecCtrl, kRW},  // VIRT_SPEC_CTRL: SSBD for guests
      {kMsrAmdOsvwIdLength, kMsrAmdOsvwStatus, kRW},    // OSVW_ID_LENGTH, OSVW_STATUS: errata workarounds
      {kMsrAmdDeCfg, kMsrAmdDeCfg, kRW},                // DE_CFG: LFENCE serializing
  };
  return *rules;
}

// On an Intel host: AMD's MSRs.
const std::vector<PresetRule>& AmdOnly() {
  static const auto* rules = new std::vector<PresetRule>{
      {kMsrAmdTscRatio, kMsrAmdTscRatio, kRW},                     // TSC_RATIO (SVM)
      {kMsrAmdPerfGlobalStatus, kMsrAmdPerfGlobalStatusSet, kRW},  // PerfMonV2 global status/control
      {kMsrAmdFirst, kMsrAmdLast, kRW},                            // 0xc0010000-0xc001ffff: K7/K8/Fam10h+ block
  };
  return *rules;
}

// On an AMD host: Intel's MSRs.
const std::vector<PresetRule>& IntelOnly() {
  static const auto* rules = new std::vector<PresetRule>{
      {kMsrFeatureControl, kMsrFeatureControl, kRW},      // FEATURE_CONTROL (VMX/SGX lock)
      {kMsrSgxLePubKeyHash0, kMsrSgxLePubKeyHash3, kRW},  // SGX launch-enclave key hash
      {kMsrPmc0, kMsrPmc7, kRW},                          // IA32_PMC0-7: architectural PMU counters
      {kMsrUmwaitControl, kMsrUmwaitControl, kRW},        // UMWAIT_CONTROL (WAITPKG)
      {kMsrTsxCtrl, kMsrTsxCtrl, kRW},                    // TSX_CTRL
      {kMsrPerfEvtSel0, kMsrPerfEvtSel7, kRW},            // PERFEVTSEL0-7: architectural PMU
      {kMsrLbrSelect, kMsrLbrTos, kRW},                   // LBR_SELECT, LBR_TOS
      {kMsrFixedCtr0, kMsrFixedCtr2, kRW},                // FIXED_CTR0-2
      {kMsrPerfCapabilities, kMsrPerfCapabilities, kRW},  // PERF_CAPABILITIES
      {kMsrFixedCtrCtrl, kMsrPerfGlobalOvfCtrl, kRW},     // FIXED_CTR_CTRL, GLOBAL_STATUS/CTRL/OVF_CTRL
      {kMsrPebsEnable, kMsrPebsDataCfg, kRW},             // PEBS_ENABLE, PEBS_DATA_CFG
      {kMsrVmxBasic, kMsrVmxVmfunc, kRW},                 // VMX capability MSRs
      {kMsrRtitOutputBase, kMsrRtitOutputMask, kRW},      // Intel PT output base/mask
      {kMsrRtitCtl, kMsrRtitCr3Match, kRW},               // Intel PT control, status, CR3 match
      {kMsrRtitAddr0A, kMsrRtitAddr3B, kRW},              // Intel PT address ranges
      {kMsrDsArea, kMsrDsArea, kRW},                      // DS_AREA (PEBS/BTS buffer)
      {kMsrLbrFrom0, kMsrLbrFrom31, kRW},                 // LBR FROM_IP 0-31
      {kMsrLbrTo0, kMsrLbrTo31, kRW},                     // LBR TO_IP 0-31
      {kMsrLbrInfo0, kMsrLbrInfo31, kRW},                 // LBR_INFO 0-31
      {kMsrArchLbrInfo0, kMsrArchLbrInfo31, kRW},         // Arch LBR INFO 0-31
      {kMsrArchLbrCtl, kMsrArchLbrDepth, kRW},            // Arch LBR CTL, DEPTH
      {kMsrArchLbrFrom0, kMsrArchLbrFrom31, kRW},         // Arch LBR FROM 0-31
      {kMsrArchLbrTo0, kMsrArchLbrTo31, kRW},             // Arch LBR TO 0-31
  };
  return *rules;
}

}  // namespace

std::vector<std::string> MsrPresetNames() { return {"default", "strict", "platform-compat"}; }

absl::StatusOr<v1::MsrPolicy> MsrPreset(const std::string& name, cpu::CpuVendor vendor) {
  v1::MsrPolicy policy;
  policy.set_preset(name);
  if (name == "default") {
    policy.set_default_action(v1::MSR_ACTION_ALLOW);
  } else if (name == "strict") {
    policy.set_default_action(v1::MSR_ACTION_DENY);
    AddRules(policy, StrictCommon(), v1::MSR_ACTION_ALLOW);
    AddRules(policy, vendor == cpu::CpuVendor::kIntel ? StrictIntel() : StrictAmd(), v1::MSR_ACTION_ALLOW);
  } else if (name == "platform-compat") {
    policy.set_default_action(v1::MSR_ACTION_ALLOW);
    AddRules(policy, vendor == cpu::CpuVendor::kIntel ? AmdOnly() : IntelOnly(), v1::MSR_ACTION_DENY);
  } else {
    return rpc::InvalidField(
        "preset", absl::StrCat("unknown preset ", rpc::QuotedInput(name), "; expected default, strict or platform-compat"));
  }
  return policy;
}

}  // namespace vmd::msr

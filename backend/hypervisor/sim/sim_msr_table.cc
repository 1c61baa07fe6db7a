#include "backend/hypervisor/sim/sim_msr_table.h"

#include <array>

namespace vmd::hv {
namespace {

using K = SimMsrKind;
constexpr CpuidBit kNone{};
constexpr CpuidBit Bit(uint32_t leaf, uint32_t subleaf, CpuidBit::Reg reg, uint8_t bit) {
  return {leaf, subleaf, reg, bit};
}
constexpr uint64_t kAll = ~uint64_t{0};
constexpr uint64_t kHigh32 = 0xffffffff00000000ull;

// Guest CPUID bits KVM checks (arch/x86/kvm/x86.c, svm/svm.c, vmx/vmx.c).
constexpr CpuidBit kTscAdjustBit = Bit(0x7, 0, CpuidBit::kEbx, 1);         // X86_FEATURE_TSC_ADJUST
constexpr CpuidBit kTscDeadlineBit = Bit(0x1, 0, CpuidBit::kEcx, 24);      // X86_FEATURE_TSC_DEADLINE_TIMER
constexpr CpuidBit kPdcmBit = Bit(0x1, 0, CpuidBit::kEcx, 15);             // X86_FEATURE_PDCM
constexpr CpuidBit kArchCapsBit = Bit(0x7, 0, CpuidBit::kEdx, 29);         // X86_FEATURE_ARCH_CAPABILITIES
constexpr CpuidBit kFlushL1dBit = Bit(0x7, 0, CpuidBit::kEdx, 28);         // X86_FEATURE_FLUSH_L1D
constexpr CpuidBit kSpecCtrlBit = Bit(0x7, 0, CpuidBit::kEdx, 26);         // X86_FEATURE_SPEC_CTRL (Intel)
constexpr CpuidBit kAmdIbpbBit = Bit(0x80000008, 0, CpuidBit::kEbx, 12);   // X86_FEATURE_AMD_IBPB
constexpr CpuidBit kAmdIbrsBit = Bit(0x80000008, 0, CpuidBit::kEbx, 14);   // X86_FEATURE_AMD_IBRS
constexpr CpuidBit kVirtSsbdBit = Bit(0x80000008, 0, CpuidBit::kEbx, 25);  // X86_FEATURE_VIRT_SSBD
constexpr CpuidBit kRdtscpBit = Bit(0x80000001, 0, CpuidBit::kEdx, 27);    // X86_FEATURE_RDTSCP
constexpr CpuidBit kXsavesBit = Bit(0xd, 1, CpuidBit::kEax, 3);            // X86_FEATURE_XSAVES
constexpr CpuidBit kTscRateBit = Bit(0x8000000a, 0, CpuidBit::kEdx, 4);    // X86_FEATURE_TSCRATEMSR
constexpr CpuidBit kSvmBit = Bit(0x80000001, 0, CpuidBit::kEcx, 2);        // X86_FEATURE_SVM

// KVM's vCPU defaults: MISC_ENABLE has BTS_UNAVAIL | PEBS_UNAVAIL
// (kvm_vcpu_reset), the microcode revision 0x100000000 (kvm_arch_vcpu_create),
// PLATFORM_INFO has CPUID_FAULT, MCG_CAP = KVM_MAX_MCE_BANKS (32) without
// MCG_CTL_P, MTRRcap = 0x500 | KVM_NR_VAR_MTRR (fixed MTRRs, WC, 8 variable).
constexpr uint64_t kMiscEnableReset = (1ull << 11) | (1ull << 12);
constexpr uint64_t kUcodeRevReset = 0x100000000ull;
constexpr uint64_t kPlatformInfoReset = 1ull << 31;
constexpr uint64_t kMcgCapReset = 32;
constexpr uint64_t kMtrrCapReset = 0x508;
// kvm_vcpu_reset: the reset PAT.
constexpr uint64_t kPatReset = 0x0007040600070406ull;

// Vendors whose KVM lists the MSR in KVM_GET_MSR_INDEX_LIST (msrs_to_save
// and emulated_msrs, as kvm_init_msr_lists() filters them on such a host).
constexpr std::array kTable = std::to_array<SimMsrSpec>({
    // index, count, name, vendors, kind, reset, reserved, gate, listed, feature
    {0x10, 1, "IA32_TIME_STAMP_COUNTER", kSimBoth, K::kTsc, 0, 0, kNone, kSimBoth, false},
    {0x11, 1, "MSR_KVM_WALL_CLOCK", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x12, 1, "MSR_KVM_SYSTEM_TIME", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x1b, 1, "IA32_APIC_BASE", kSimBoth, K::kApicBase, 0, 0, kNone, kSimNone, false},
    {0x34, 1, "MSR_SMI_COUNT", kSimBoth, K::kReadOnly, 0, 0, kNone, kSimBoth, false},
    {0x3a, 1, "IA32_FEATURE_CONTROL", kSimIntel, K::kStored, 0, 0, kNone, kSimIntel, false},
    {0x3b, 1, "IA32_TSC_ADJUST", kSimBoth, K::kTscAdjust, 0, 0, kTscAdjustBit, kSimBoth, false},
    // SPEC_CTRL: the valid bits follow the guest CPUID (kvm_spec_ctrl_test_value).
    {0x48, 1, "IA32_SPEC_CTRL", kSimIntel, K::kStored, 0, ~uint64_t{0x7}, kSpecCtrlBit, kSimBoth, false},
    {0x48, 1, "IA32_SPEC_CTRL", kSimAmd, K::kStored, 0, ~uint64_t{0x7}, kAmdIbrsBit, kSimBoth, false},
    {0x49, 1, "IA32_PRED_CMD", kSimIntel, K::kWriteOnly, 0, ~uint64_t{1}, kSpecCtrlBit, kSimNone, false},
    {0x49, 1, "IA32_PRED_CMD", kSimAmd, K::kWriteOnly, 0, ~uint64_t{1}, kAmdIbpbBit, kSimNone, false},
    // UCODE_REV: a guest write is dropped (only the host sets it).
    {0x8b, 1, "IA32_BIOS_SIGN_ID", kSimBoth, K::kWriteIgnored, kUcodeRevReset, 0, kNone, kSimBoth, true},
    {0xce, 1, "MSR_PLATFORM_INFO", kSimBoth, K::kReadOnly, kPlatformInfoReset, 0, kNone, kSimBoth, true},
    {0xfe, 1, "IA32_MTRRCAP", kSimBoth, K::kReadOnly, kMtrrCapReset, 0, kNone, kSimNone, false},
    {0x10a, 1, "IA32_ARCH_CAPABILITIES", kSimBoth, K::kReadOnly, 0, 0, kArchCapsBit, kSimBoth, true},
    {0x10b, 1, "IA32_FLUSH_CMD", kSimBoth, K::kWriteOnly, 0, ~uint64_t{1}, kFlushL1dBit, kSimNone, false},
    // MISC_FEATURES_ENABLES: CPUID faulting only (PLATFORM_INFO says it is there).
    {0x140, 1, "MSR_MISC_FEATURES_ENABLES", kSimBoth, K::kStored, 0, ~uint64_t{1}, kNone, kSimBoth, false},
    {0x174, 1, "IA32_SYSENTER_CS", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x175, 2, "IA32_SYSENTER_ESP/EIP", kSimBoth, K::kSysenterAddr, 0, 0, kNone, kSimBoth, false},
    {0x179, 1, "IA32_MCG_CAP", kSimBoth, K::kReadOnly, kMcgCapReset, 0, kNone, kSimNone, false},
    {0x17a, 1, "IA32_MCG_STATUS", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x17b, 1, "IA32_MCG_CTL", kSimBoth, K::kNoGuestAccess, 0, 0, kNone, kSimBoth, false},
    {0x1a0, 1, "IA32_MISC_ENABLE", kSimBoth, K::kStored, kMiscEnableReset, 0, kNone, kSimBoth, false},
    // svm: without LBR virtualisation DEBUGCTL writes are dropped; bits
    // above 5 are reserved (DEBUGCTL_RESERVED_BITS).
    {0x1d9, 1, "IA32_DEBUGCTL", kSimAmd, K::kWriteIgnored, 0, ~uint64_t{0x3f}, kNone, kSimBoth, false},
    {0x1d9, 1, "IA32_DEBUGCTL", kSimIntel, K::kStored, 0, ~uint64_t{0x2}, kNone, kSimBoth, false},
    // svm: the VMCB's last-branch fields, read only.
    {0x1db, 4, "LASTBRANCH/LASTINT FROM/TO", kSimAmd, K::kReadOnly, 0, 0, kNone, kSimAmd, false},
    {0x1fc, 1, "MSR_IA32_POWER_CTL", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x200, 16, "IA32_MTRR_PHYSBASE/MASK0-7", kSimBoth, K::kMtrrPhysBase, 0, 0, kNone, kSimNone, false},
    {0x250, 1, "IA32_MTRR_FIX64K_00000", kSimBoth, K::kMtrrFixed, 0, 0, kNone, kSimNone, false},
    {0x258, 2, "IA32_MTRR_FIX16K", kSimBoth, K::kMtrrFixed, 0, 0, kNone, kSimNone, false},
    {0x268, 8, "IA32_MTRR_FIX4K", kSimBoth, K::kMtrrFixed, 0, 0, kNone, kSimNone, false},
    {0x277, 1, "IA32_PAT", kSimBoth, K::kPat, kPatReset, 0, kNone, kSimBoth, false},
    {0x2ff, 1, "IA32_MTRR_DEF_TYPE", kSimBoth, K::kMtrrDefType, 0, 0, kNone, kSimNone, false},
    {0x345, 1, "IA32_PERF_CAPABILITIES", kSimBoth, K::kReadOnly, 0, 0, kPdcmBit, kSimBoth, true},
    {0x400, 128, "IA32_MCi_CTL/STATUS/ADDR/MISC", kSimBoth, K::kMcBank, 0, 0, kNone, kSimNone, false},
    // TSC_DEADLINE outside TSC-deadline timer mode: reads 0, writes dropped.
    {0x6e0, 1, "IA32_TSC_DEADLINE", kSimBoth, K::kWriteIgnored, 0, 0, kTscDeadlineBit, kSimBoth, false},
    {0xda0, 1, "IA32_XSS", kSimBoth, K::kStored, 0, kAll, kXsavesBit, kSimNone, false},
    // The KVM paravirtual block (Documentation/virt/kvm/x86/msr.rst). KVM
    // checks no CPUID bit for these unless KVM_CAP_ENFORCE_PV_FEATURE_CPUID.
    {0x4b564d00, 2, "MSR_KVM_WALL_CLOCK_NEW/SYSTEM_TIME_NEW", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0x4b564d02, 1, "MSR_KVM_ASYNC_PF_EN", kSimBoth, K::kStored, 0, 0x30, kNone, kSimBoth, false},
    {0x4b564d03, 1, "MSR_KVM_STEAL_TIME", kSimBoth, K::kStored, 0, 0x3e, kNone, kSimBoth, false},
    {0x4b564d04, 1, "MSR_KVM_PV_EOI_EN", kSimBoth, K::kStored, 0, 0x2, kNone, kSimBoth, false},
    {0x4b564d05, 1, "MSR_KVM_POLL_CONTROL", kSimBoth, K::kStored, 1, ~uint64_t{1}, kNone, kSimBoth, false},
    {0x4b564d06, 1, "MSR_KVM_ASYNC_PF_INT", kSimBoth, K::kStored, 0, ~uint64_t{0xff}, kNone, kSimBoth, false},
    {0x4b564d07, 1, "MSR_KVM_ASYNC_PF_ACK", kSimBoth, K::kWriteIgnored, 0, 0, kNone, kSimBoth, false},
    {0xc0000080, 1, "IA32_EFER", kSimBoth, K::kEfer, 0, 0, kNone, kSimNone, false},
    {0xc0000081, 1, "MSR_STAR", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    {0xc0000082, 2, "MSR_LSTAR/CSTAR", kSimBoth, K::kCanonical, 0, 0, kNone, kSimBoth, false},
    {0xc0000084, 1, "MSR_SYSCALL_MASK", kSimBoth, K::kStored, 0, 0, kNone, kSimBoth, false},
    // FS/GS bases travel in the segment registers, so only KERNEL_GS_BASE is listed.
    {0xc0000100, 2, "MSR_FS_BASE/GS_BASE", kSimBoth, K::kCanonical, 0, 0, kNone, kSimNone, false},
    {0xc0000102, 1, "MSR_KERNEL_GS_BASE", kSimBoth, K::kCanonical, 0, 0, kNone, kSimBoth, false},
    {0xc0000103, 1, "MSR_TSC_AUX", kSimBoth, K::kStored, 0, kHigh32, kRdtscpBit, kSimNone, false},
    {0xc0000104, 1, "MSR_AMD64_TSC_RATIO", kSimAmd, K::kStored, 0, 0, kTscRateBit, kSimNone, false},
    // svm_set_msr: HWCR bits 3, 6 and 8 are dropped, 18 (McStatusWrEn) and 24 (TscFreqSel) kept.
    {0xc0010015, 1, "MSR_K7_HWCR", kSimAmd, K::kHwcr, 0, 0, kNone, kSimAmd, false},
    {0xc0010114, 1, "MSR_VM_CR", kSimAmd, K::kStored, 0, ~uint64_t{0x1f}, kSvmBit, kSimNone, false},
    {0xc0010117, 1, "MSR_VM_HSAVE_PA", kSimAmd, K::kPageAddress, 0, 0, kNone, kSimAmd, false},
    {0xc001011f, 1, "MSR_AMD64_VIRT_SPEC_CTRL", kSimAmd, K::kStored, 0, ~uint64_t{1u << 2}, kVirtSsbdBit, kSimAmd,
     false},
});

}  // namespace

bool SimVendorsHave(uint8_t vendors, cpu::CpuVendor vendor) {
  return (vendors & (vendor == cpu::CpuVendor::kIntel ? kSimIntel : kSimAmd)) != 0;
}

std::span<const SimMsrSpec> SimMsrTable() { return kTable; }

const SimMsrSpec* FindSimMsr(uint32_t index, cpu::CpuVendor vendor) {
  for (const SimMsrSpec& s : kTable) {
    if (index >= s.index && index - s.index < s.count && SimVendorsHave(s.vendors, vendor)) return &s;
  }
  return nullptr;
}

}  // namespace vmd::hv

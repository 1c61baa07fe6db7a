#include "backend/hypervisor/sim/sim_msrs.h"

#include "backend/cpu/tsc_cycles.h"

namespace vmd::hv {
namespace {

constexpr uint32_t kMsrTsc = 0x10, kMsrTscAdjust = 0x3b, kMsrHwcr = 0xc0010015;
constexpr uint64_t kHwcrMcStatusWrEn = 1ull << 18, kHwcrTscFreqSel = 1ull << 24;
// svm_set_msr: HWCR bits KVM accepts and drops: TLB cache disable (3),
// flush filter disable (6), IGNNE emulation (8).
constexpr uint64_t kHwcrDropped = (1ull << 3) | (1ull << 6) | (1ull << 8);

constexpr uint64_t kApicBaseBsp = 1ull << 8, kApicBaseExtd = 1ull << 10, kApicBaseEn = 1ull << 11;
constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
constexpr uint64_t kEferSvme = 1ull << 12;

bool Canonical(uint64_t v) {
  const uint64_t top = v >> 47;
  return top == 0 || top == (~uint64_t{0} >> 47);
}
uint64_t Canonicalize(uint64_t v) { return static_cast<uint64_t>(static_cast<int64_t>(v << 16) >> 16); }

// MTRR memory types (kvm_mtrr_valid): UC, WC, WT, WP, WB.
bool ValidMtrrType(uint64_t t) { return t == 0 || t == 1 || t == 4 || t == 5 || t == 6; }
// kvm_pat_valid(): every entry UC, WC, WT, WP, WB or UC-.
bool ValidPat(uint64_t pat) {
  for (int i = 0; i < 8; ++i) {
    const uint64_t t = (pat >> (8 * i)) & 0xff;
    if (!ValidMtrrType(t) && t != 7) return false;
  }
  return true;
}

// kvm_apic_mode(): EN and EXTD as a mode.
enum class ApicMode { kDisabled, kInvalid, kXapic, kX2apic };
ApicMode ModeOf(uint64_t base) {
  const bool en = base & kApicBaseEn, extd = base & kApicBaseExtd;
  if (!en) return extd ? ApicMode::kInvalid : ApicMode::kDisabled;
  return extd ? ApicMode::kX2apic : ApicMode::kXapic;
}

}  // namespace

SimMsrs::SimMsrs(cpu::CpuVendor vendor, const cpu::CpuidTable& cpuid, uint64_t tsc_khz,
                 const std::map<uint32_t, uint64_t>& values)
    : vendor_(vendor), cpuid_(cpuid), tsc_khz_(tsc_khz), values_(values) {}

bool SimMsrs::HasCpuid(const CpuidBit& bit) const {
  if (bit.none()) return true;
  const cpu::CpuidEntry e = cpu::LookupCpuid(cpuid_, bit.leaf, bit.subleaf);
  const uint32_t regs[] = {e.eax, e.ebx, e.ecx, e.edx};
  return (regs[bit.reg] >> bit.bit) & 1;
}

bool SimMsrs::Permitted(const SimMsrSpec& spec) const {
  if (spec.index == 0x48 && vendor_ == cpu::CpuVendor::kAmd) {
    // guest_has_spec_ctrl_msr(): SPEC_CTRL, AMD_STIBP, AMD_IBRS or AMD_SSBD.
    return HasCpuid(spec.gate) || HasCpuid({0x80000008, 0, CpuidBit::kEbx, 15}) ||
           HasCpuid({0x80000008, 0, CpuidBit::kEbx, 24}) || HasCpuid({0x7, 0, CpuidBit::kEdx, 26});
  }
  return HasCpuid(spec.gate);
}

uint64_t SimMsrs::ReservedPhysicalBits() const {
  const uint32_t maxphyaddr = cpu::LookupCpuid(cpuid_, 0x80000008, 0).eax & 0xff;
  return maxphyaddr >= 64 || maxphyaddr == 0 ? 0 : ~((uint64_t{1} << maxphyaddr) - 1);
}

uint64_t SimMsrs::Value(uint32_t index) const {
  if (auto it = values_.find(index); it != values_.end()) return it->second;
  const SimMsrSpec* spec = FindSimMsr(index, vendor_);
  return spec ? spec->reset : 0;
}

uint64_t SimMsrs::Rdtsc() const {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - reset_).count();
  // Modulo 2^64: a guest that wrote a TSC below the current one has an
  // offset that wraps (signed arithmetic would overflow).
  return cpu::NsToCycles(static_cast<uint64_t>(ns), tsc_khz_) + tsc_offset_;
}

std::optional<uint64_t> SimMsrs::Read(uint32_t index) const {
  const SimMsrSpec* spec = FindSimMsr(index, vendor_);
  if (spec == nullptr || !Permitted(*spec)) return std::nullopt;
  switch (spec->kind) {
    case SimMsrKind::kWriteOnly:
    case SimMsrKind::kNoGuestAccess: return std::nullopt;
    case SimMsrKind::kTsc: return Rdtsc();
    default: return Value(index);
  }
}

bool SimMsrs::Write(uint32_t index, uint64_t value) {
  const SimMsrSpec* spec = FindSimMsr(index, vendor_);
  if (spec == nullptr || !Permitted(*spec)) return false;
  if ((value & spec->reserved) != 0) return false;
  return WriteChecked(*spec, index, value);
}

bool SimMsrs::WriteChecked(const SimMsrSpec& spec, uint32_t index, uint64_t value) {
  switch (spec.kind) {
    case SimMsrKind::kStored: break;
    case SimMsrKind::kReadOnly:
    case SimMsrKind::kNoGuestAccess: return false;
    case SimMsrKind::kWriteIgnored:
    case SimMsrKind::kWriteOnly: return true;
    case SimMsrKind::kCanonical:
      if (!Canonical(value)) return false;
      break;
    case SimMsrKind::kSysenterAddr:
      // __kvm_set_msr canonicalises; svm keeps the high half only for
      // Intel-compatible guests (sysenter_eip_hi).
      value = Canonicalize(value);
      if (vendor_ == cpu::CpuVendor::kAmd) value &= 0xffffffffull;
      break;
    case SimMsrKind::kPat:
      if (!ValidPat(value)) return false;
      break;
    case SimMsrKind::kMtrrDefType:
      if ((value & ~uint64_t{0xcff}) != 0 || !ValidMtrrType(value & 0xff)) return false;
      break;
    case SimMsrKind::kMtrrFixed:
      for (int i = 0; i < 8; ++i) {
        if (!ValidMtrrType((value >> (8 * i)) & 0xff)) return false;
      }
      break;
    case SimMsrKind::kMtrrPhysBase:
      if (((index - spec.index) & 1) == 0) {  // PHYSBASEn: type, bits 8-11 reserved
        if ((value & (0xf00 | ReservedPhysicalBits())) != 0 || !ValidMtrrType(value & 0xff)) return false;
      } else if ((value & (0x7ff | ReservedPhysicalBits())) != 0) {  // PHYSMASKn
        return false;
      }
      break;
    case SimMsrKind::kMcBank: {
      const uint32_t offset = (index - spec.index) % 4;
      if (offset == 0 && value != 0 && (value | (1ull << 10) | 1) != ~uint64_t{0}) return false;
      if (offset == 1 && value != 0 && (vendor_ != cpu::CpuVendor::kAmd || !(Value(kMsrHwcr) & kHwcrMcStatusWrEn))) {
        return false;
      }
      break;
    }
    case SimMsrKind::kHwcr:
      value &= ~kHwcrDropped;
      if ((value & ~(kHwcrMcStatusWrEn | kHwcrTscFreqSel)) != 0) return false;
      break;
    case SimMsrKind::kTsc: {
      // kvm_set_msr_common(MSR_IA32_TSC): the guest's write moves TSC_ADJUST too.
      const uint64_t delta = value - Rdtsc();
      tsc_offset_ += delta;
      values_[kMsrTscAdjust] = Value(kMsrTscAdjust) + delta;
      return true;
    }
    case SimMsrKind::kTscAdjust:
      tsc_offset_ += value - Value(kMsrTscAdjust);
      break;
    case SimMsrKind::kApicBase: {
      // kvm_apic_set_base(): bits 0-7, 9 and above MAXPHYADDR reserved; an
      // invalid mode, x2APIC -> xAPIC and disabled -> x2APIC #GP. The BSP
      // flag is the guest's to change.
      if ((value & (0x2ffull | ReservedPhysicalBits())) != 0) return false;
      const ApicMode from = ModeOf(Value(index)), to = ModeOf(value);
      if (to == ApicMode::kInvalid || (from == ApicMode::kX2apic && to == ApicMode::kXapic) ||
          (from == ApicMode::kDisabled && to == ApicMode::kX2apic)) {
        return false;
      }
      break;
    }
    case SimMsrKind::kEfer: {
      // set_efer(): the bits the guest CPUID enables (FFXSR only where the
      // host KVM enables it; it does not here); LME fixed while
      // paging is on; LMA is the CPU's.
      uint64_t writable = kEferSce | kEferLme | kEferLma;
      if (HasCpuid({0x80000001, 0, CpuidBit::kEdx, 20})) writable |= kEferNxe;
      if (HasCpuid({0x80000001, 0, CpuidBit::kEcx, 2})) writable |= kEferSvme;
      const uint64_t old = Value(index);
      if ((value & ~writable) != 0 || ((value ^ old) & kEferLme) != 0) return false;
      value = (value & ~kEferLma) | (old & kEferLma);
      break;
    }
    case SimMsrKind::kPageAddress:
      if ((value & 0xfff) != 0 || (value & ReservedPhysicalBits()) != 0) return false;
      break;
  }
  values_[index] = value;
  return true;
}

std::map<uint32_t, uint64_t> SimMsrs::Values() const {
  std::map<uint32_t, uint64_t> out = values_;
  out[kMsrTsc] = Rdtsc();
  return out;
}

void SimMsrs::RestoreValue(uint32_t index, uint64_t value) {
  if (index == kMsrTsc) {
    tsc_offset_ += value - Rdtsc();
  } else {
    values_[index] = value;
  }
}

}  // namespace vmd::hv

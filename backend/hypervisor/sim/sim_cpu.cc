#include "backend/hypervisor/sim/sim_cpu.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"

namespace vmd::hv {
namespace {

constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint32_t kMsrEfer = 0xc0000080, kMsrGsBase = 0xc0000101, kMsrArchCapabilities = 0x10a;
constexpr uint32_t kX2apicFirst = 0x800, kX2apicLast = 0x8ff;
constexpr uint32_t kX2apicId = 0x802, kX2apicTpr = 0x808, kX2apicEoi = 0x80b, kX2apicSvr = 0x80f;
constexpr uint32_t kX2apicIcr = 0x830, kX2apicLvtPc = 0x834, kX2apicSelfIpi = 0x83f;
// apic_lvt_mask[LVTPC]: vector, delivery mode, mask; other bits read 0.
constexpr uint32_t kLvtPcWritable = 0x107ff, kLvtMasked = 1u << 16, kSvrEnabled = 1u << 8;

constexpr uint64_t kApicBaseBsp = 1ull << 8, kApicBaseExtd = 1ull << 10, kApicBaseEn = 1ull << 11;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr uint64_t kIcrShorthandSelf = 1ull << 18;

// What the firmware leaves behind: x2APIC on, SVR enabled with spurious
// vector 0xff (backend/guest/firmware/apic.c), long mode active
// (firmware_loader.cc), GS.base at the vCPU's percpu block (main.c).
constexpr uint64_t kFirmwareSvr = 0x1ff;

std::map<uint32_t, uint64_t> BootMsrs(const cpu::HostProfile& p, uint32_t vcpu_id) {
  std::map<uint32_t, uint64_t> m = {
      {kMsrApicBase, 0xfee00000ull | kApicBaseEn | kApicBaseExtd | (vcpu_id == 0 ? kApicBaseBsp : 0)},
      {kMsrEfer, kEferLme | kEferLma},
      {kMsrGsBase, VMD_STACKS_GPA + uint64_t{vcpu_id} * VMD_STACK_BYTES},
      {kMsrArchCapabilities, p.arch_capabilities},
  };
  return m;
}

// LAPIC register page offsets (SDM vol. 3A, table 11-1).
constexpr size_t kLapicId = 0x20, kLapicTpr = 0x80, kLapicSvr = 0xf0, kLapicLvtPc = kLapicLvtPerfCounter;

uint32_t LapicRegister(const LapicState& lapic, size_t offset) {
  uint32_t v;
  std::memcpy(&v, lapic.registers.data() + offset, sizeof(v));
  return v;
}

void SetLapicRegister(LapicState& lapic, size_t offset, uint32_t value) {
  std::memcpy(lapic.registers.data() + offset, &value, sizeof(value));
}

}  // namespace

cpu::CpuidTable SimBaseCpuid(const cpu::HostProfile& p) {
  using cpu::Leaf;
  using cpu::Subleaf;
  if (p.base_cpuid != nullptr) return *p.base_cpuid;  // the `host` profile: KVM's own answer
  const bool intel = p.vendor == cpu::CpuVendor::kIntel;
  const cpu::VendorRegisters v = cpu::CpuidVendorRegisters(p.vendor);
  cpu::CpuidTable e = {
      Leaf(0x0, intel ? 0x1b : 0x10, v.ebx, v.ecx, v.edx),
      // Family/model/stepping of the profile; SSE3..AVX with XSAVE, FPU..SSE2, APIC.
      Leaf(0x1, p.cpuid_signature(), 0x00000800, 0x77fafbff & ~(1u << 21), 0x0f8bfbff),
      // KVM passes only ARAT in leaf 6 (kvm_set_cpu_caps: "thermal/power: ARAT").
      Leaf(0x6, 0x4, 0, 0, 0),
      Subleaf(0x7, 0, 0, 0xd19f4fbb, 0x0040405e, intel ? 0xbc000400 : 0xa8000000),
      // XSAVE (leaf 1 ECX bit 26) needs leaf 0xD: x87, SSE, AVX, AVX-512
      // (opmask, ZMM_Hi256, Hi16_ZMM) and PKRU in XCR0; EBX is the size for
      // the guest's XCR0, which the firmware leaves at x87 (576 bytes), as
      // kvm_update_cpuid_runtime() computes it; ECX the size for all.
      Subleaf(0xd, 0, 0x2e7, 0x240, 0xa88, 0),
      Subleaf(0xd, 1, 0x1, 0, 0, 0),  // XSAVEOPT only: no XSAVES, so no IA32_XSS
      Subleaf(0xd, 2, 256, 576, 0, 0),
      Subleaf(0xd, 5, 64, 1088, 0, 0),
      Subleaf(0xd, 6, 512, 1152, 0, 0),
      Subleaf(0xd, 7, 1024, 1664, 0, 0),
      Subleaf(0xd, 9, 8, 2688, 0, 0),
      // KVM's hypervisor leaves: signature "KVMKVMKVM\0\0\0"; the PV features
      // are the ones KVM offers (each MSR-backed one is modelled in
      // sim_msr_table.cc: kvmclock, async PF, steal time, PV EOI, poll control).
      Leaf(0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d),
      Leaf(0x40000001, 0x01007efb, 0, 0, 0),
      Leaf(0x80000000, intel ? 0x80000008 : 0x80000021, v.ebx, v.ecx, v.edx),
      // AMD: no SVM bit (no nested SVM is modelled), as on a kvm host without nested.
      Leaf(0x80000001, 0, 0, intel ? 0x121 : 0x75c237fb, 0x2c100800),
      // KVM keeps only the invariant TSC bit of leaf 0x80000007.
      Leaf(0x80000007, 0, 0, 0, 0x100),
      Leaf(0x80000008, 0x3030, intel ? 0x0 : 0x0100d000, 0, 0),
  };
  if (intel) e.push_back(Subleaf(0x4, 0, 0x1c004121, 0x01c0003f, 0x3f, 0));
  return e;
}

SimCpu::SimCpu(const cpu::HostProfile& profile, uint32_t vcpu_id, cpu::CpuidTable cpuid,
               std::function<void(uint8_t)> self_ipi)
    : profile_(profile),
      vcpu_id_(vcpu_id),
      cpuid_(std::move(cpuid)),
      self_ipi_(std::move(self_ipi)),
      msrs_(profile.vendor, cpuid_, profile.tsc_khz, BootMsrs(profile, vcpu_id)),
      svr_(kFirmwareSvr),
      runtime_(cpuid_, {.cr4 = cr4_, .xcr0 = xcr0_, .apic_base = *msrs_.Read(kMsrApicBase)}) {}

void SimCpu::SetBootCr4(uint64_t cr4) {
  cr4_ = cr4;
  runtime_.OnCr4(cr4_);
}

namespace {

constexpr uint64_t kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
// The CR4 bits x86 defines (CR4_RESERVED_BITS' complement): VME..SMXE,
// FSGSBASE, PCIDE, OSXSAVE, SMEP, SMAP, PKE, CET, PKS, LAM_SUP.
constexpr uint64_t kCr4Defined = 0x7fff | (0x7ull << 16) | (0x1full << 20) | (1ull << 28);
// __cr4_reserved_bits(): a feature bit without its CPUID feature is reserved.
struct Cr4Feature {
  uint64_t cr4_bit;
  CpuidBit cpuid;
};
constexpr Cr4Feature kCr4Features[] = {
    {1ull << 3, {1, 0, CpuidBit::kEdx, 2}},    // DE
    {1ull << 11, {7, 0, CpuidBit::kEcx, 2}},   // UMIP
    {kCr4La57, {7, 0, CpuidBit::kEcx, 16}},    // LA57
    {1ull << 13, {1, 0, CpuidBit::kEcx, 5}},   // VMXE
    {1ull << 16, {7, 0, CpuidBit::kEbx, 0}},   // FSGSBASE
    {1ull << 17, {1, 0, CpuidBit::kEcx, 17}},  // PCIDE
    {1ull << 18, {1, 0, CpuidBit::kEcx, 26}},  // OSXSAVE
    {1ull << 20, {7, 0, CpuidBit::kEbx, 7}},   // SMEP
    {1ull << 21, {7, 0, CpuidBit::kEbx, 20}},  // SMAP
    {1ull << 22, {7, 0, CpuidBit::kEcx, 3}},   // PKE
    {1ull << 24, {7, 0, CpuidBit::kEcx, 31}},  // PKS
};
constexpr uint32_t kVectorUd = 6, kVectorGp = 13;
constexpr uint64_t kXcr0X87 = 1, kXcr0Sse = 2, kXcr0Avx = 4, kXcr0Bnd = 0x18, kXcr0Avx512 = 0xe0, kXcr0Amx = 0x60000;

bool Has(const cpu::CpuidTable& t, const CpuidBit& b) {
  const cpu::CpuidEntry e = cpu::LookupCpuid(t, b.leaf, b.subleaf);
  const uint32_t regs[] = {e.eax, e.ebx, e.ecx, e.edx};
  return (regs[b.reg] >> b.bit) & 1;
}

}  // namespace

uint32_t SimCpu::WriteCr4(uint64_t value) {
  // kvm_is_valid_cr4(): undefined bits, and features the guest lacks.
  if (value & ~kCr4Defined) return kVectorGp;
  for (const Cr4Feature& f : kCr4Features) {
    if ((value & f.cr4_bit) && !Has(cpuid_, f.cpuid)) return kVectorGp;
  }
  // kvm_set_cr4(): in long mode PAE stays set and LA57 does not change.
  if (!(value & kCr4Pae) || ((value ^ cr4_) & kCr4La57)) return kVectorGp;
  cr4_ = value;
  runtime_.OnCr4(cr4_);
  return 0;
}

uint32_t SimCpu::Xsetbv(uint32_t xcr, uint64_t value) {
  // XSETBV #UDs without CR4.OSXSAVE; __kvm_set_xcr() #GPs on the rest.
  if (!(cr4_ & (1ull << 18))) return kVectorUd;
  if (xcr != 0) return kVectorGp;
  const cpu::CpuidEntry xsave = cpu::LookupCpuid(cpuid_, 0xd, 0);
  const uint64_t supported = (uint64_t{xsave.edx} << 32) | xsave.eax;
  if (!(value & kXcr0X87) || (value & ~supported)) return kVectorGp;
  if ((value & kXcr0Avx) && !(value & kXcr0Sse)) return kVectorGp;
  if ((value & kXcr0Bnd) != 0 && (value & kXcr0Bnd) != kXcr0Bnd) return kVectorGp;
  if ((value & kXcr0Avx512) != 0 && ((value & kXcr0Avx512) != kXcr0Avx512 || !(value & kXcr0Avx))) return kVectorGp;
  if ((value & kXcr0Amx) != 0 && (value & kXcr0Amx) != kXcr0Amx) return kVectorGp;
  xcr0_ = value;
  runtime_.OnXcr0(xcr0_, 0);
  return 0;
}

cpu::CpuidEntry SimCpu::Cpuid(uint32_t leaf, uint32_t subleaf) const {
  return cpu::LookupCpuid(runtime_.table(), leaf, subleaf);
}

bool SimCpu::KnowsMsr(uint32_t index) const {
  return (index >= kX2apicFirst && index <= kX2apicLast) || msrs_.Knows(index);
}

std::optional<uint64_t> SimCpu::ReadMsr(uint32_t index) const {
  switch (index) {
    case kX2apicId: return vcpu_id_;
    case kX2apicTpr: return tpr_;
    case kX2apicSvr: return svr_;
    case kX2apicLvtPc: return lvt_pc_;
    case kX2apicEoi:
    case kX2apicSelfIpi: return std::nullopt;  // write-only
    default:
      if (index >= kX2apicFirst && index <= kX2apicLast) return std::nullopt;  // not modelled
      return msrs_.Read(index);
  }
}

bool SimCpu::WriteMsr(uint32_t index, uint64_t value) {
  switch (index) {
    case kX2apicTpr:
      if (value > 0xff) return false;
      tpr_ = value;
      return true;
    case kX2apicEoi: return value == 0;
    case kX2apicSvr:
      if (value >> 13) return false;
      svr_ = value;
      return true;
    case kX2apicLvtPc:
      // kvm_lapic_msr_write: bits 63:32 #GP; kvm_lapic_reg_write: the LVT's
      // other bits dropped, and masked while the APIC is software-disabled.
      if (value >> 32) return false;
      lvt_pc_ = static_cast<uint32_t>(value) & kLvtPcWritable;
      if (!(svr_ & kSvrEnabled)) lvt_pc_ |= kLvtMasked;
      return true;
    case kX2apicIcr:
      // Fixed-mode self IPIs are modelled; other destinations have no guest
      // code listening in our firmware and are dropped.
      if ((value >> 32) == vcpu_id_ || (value & (3ull << 18)) == kIcrShorthandSelf) {
        self_ipi_(static_cast<uint8_t>(value & 0xff));
      }
      return true;
    case kX2apicSelfIpi:
      if (value > 0xff) return false;
      self_ipi_(static_cast<uint8_t>(value));
      return true;
    case kMsrApicBase:
      if (!msrs_.Write(index, value)) return false;
      runtime_.OnApicBase(value);
      return true;
    default:
      if (index >= kX2apicFirst && index <= kX2apicLast) return false;
      return msrs_.Write(index, value);
  }
}

void SimCpu::SaveState(VcpuState& state) const {
  // As on KVM: EFER and APIC_BASE travel with the special registers.
  state.msrs.clear();
  for (const auto& [index, value] : msrs_.Values()) {
    if (index == kMsrApicBase) {
      state.sregs.apic_base = value;
    } else if (index == kMsrEfer) {
      state.sregs.efer = value;
    } else {
      state.msrs.push_back({index, value});
    }
  }
  state.sregs.cr4 = cr4_;
  state.xcrs = {{.index = 0, .value = xcr0_}};
  state.lapic = {};
  SetLapicRegister(state.lapic, kLapicId, vcpu_id_);
  SetLapicRegister(state.lapic, kLapicTpr, static_cast<uint32_t>(tpr_));
  SetLapicRegister(state.lapic, kLapicSvr, static_cast<uint32_t>(svr_));
  SetLapicRegister(state.lapic, kLapicLvtPc, lvt_pc_);
}

uint32_t SimCpu::ReadLapic(uint32_t offset) const {
  VcpuState state;
  SaveState(state);
  return offset + 4 <= state.lapic.registers.size() ? LapicRegister(state.lapic, offset) : 0;
}

absl::Status SimCpu::RestoreState(const VcpuState& state) {
  for (const MsrValue& m : state.msrs) {
    if (!msrs_.Knows(m.index)) {
      return absl::InvalidArgumentError(absl::StrCat("sim: the saved state holds MSR 0x", absl::Hex(m.index),
                                                     ", which the sim does not model"));
    }
    msrs_.RestoreValue(m.index, m.value);
  }
  msrs_.RestoreValue(kMsrApicBase, state.sregs.apic_base);
  msrs_.RestoreValue(kMsrEfer, state.sregs.efer);
  cr4_ = state.sregs.cr4;
  for (const Xcr& x : state.xcrs) {
    if (x.index == 0) xcr0_ = x.value;
  }
  runtime_.Recompute({.cr4 = cr4_, .xcr0 = xcr0_, .apic_base = state.sregs.apic_base});
  tpr_ = LapicRegister(state.lapic, kLapicTpr);
  svr_ = LapicRegister(state.lapic, kLapicSvr);
  lvt_pc_ = LapicRegister(state.lapic, kLapicLvtPc);
  // A state saved before the sim modelled the LVT holds 0: masked, as reset.
  if (lvt_pc_ == 0) lvt_pc_ = kLvtMasked;
  return absl::OkStatus();
}

}  // namespace vmd::hv

#include "backend/hypervisor/sim/sim_cpu.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace vmd::hv {
namespace {

// MSR indexes (Intel SDM vol. 4; KVM's arch/x86/kvm/x86.c and lapic.c).
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint32_t kMsrPat = 0x277;
constexpr uint32_t kMsrEfer = 0xc0000080;
constexpr uint32_t kX2apicFirst = 0x800, kX2apicLast = 0x8ff;
constexpr uint32_t kX2apicId = 0x802, kX2apicTpr = 0x808, kX2apicEoi = 0x80b, kX2apicSvr = 0x80f;
constexpr uint32_t kX2apicIcr = 0x830, kX2apicSelfIpi = 0x83f;

constexpr uint64_t kApicBaseBsp = 1ull << 8, kApicBaseExtd = 1ull << 10, kApicBaseEn = 1ull << 11;
constexpr uint64_t kEferSce = 1ull << 0, kEferLme = 1ull << 8, kEferLma = 1ull << 10, kEferNxe = 1ull << 11;
constexpr uint64_t kEferSvme = 1ull << 12;
constexpr uint64_t kIcrShorthandSelf = 1ull << 18;

// What the firmware leaves behind: x2APIC on, SVR enabled with spurious
// vector 0xff (backend/guest/firmware/apic.c), long mode active.
constexpr uint64_t kFirmwareSvr = 0x1ff;

// KVM's reserved-bit mask for EFER: what the guest's CPUID enables.
uint64_t EferWritable(const cpu::HostProfile& p) {
  return kEferSce | kEferLme | kEferLma | kEferNxe | (p.vendor == cpu::CpuVendor::kAmd ? kEferSvme : 0);
}

// LAPIC register page offsets (SDM vol. 3A, table 11-1).
constexpr size_t kLapicId = 0x20, kLapicTpr = 0x80, kLapicSvr = 0xf0;

uint32_t LapicRegister(const LapicState& lapic, size_t offset) {
  uint32_t v;
  std::memcpy(&v, lapic.registers.data() + offset, sizeof(v));
  return v;
}

void SetLapicRegister(LapicState& lapic, size_t offset, uint32_t value) {
  std::memcpy(lapic.registers.data() + offset, &value, sizeof(value));
}

bool ValidPat(uint64_t pat) {
  for (int i = 0; i < 8; ++i) {
    uint8_t type = (pat >> (8 * i)) & 0xff;
    if (type == 2 || type == 3 || type > 7) return false;  // KVM's kvm_pat_valid()
  }
  return true;
}

}  // namespace

cpu::CpuidTable SimBaseCpuid(const cpu::HostProfile& p) {
  using cpu::Leaf;
  using cpu::Subleaf;
  const bool intel = p.vendor == cpu::CpuVendor::kIntel;
  const cpu::VendorRegisters v = cpu::CpuidVendorRegisters(p.vendor);
  cpu::CpuidTable e = {
      Leaf(0x0, intel ? 0x1b : 0x10, v.ebx, v.ecx, v.edx),
      // Family/model/stepping of the profile; SSE3..AVX, FPU..SSE2, APIC.
      Leaf(0x1, p.cpuid_signature(), 0x00000800, 0x77fafbff & ~(1u << 21), 0x0f8bfbff),
      Subleaf(0x7, 0, 0, 0xd19f4fbb, 0x0040405e, intel ? 0xbc000400 : 0x10),
      // KVM's hypervisor leaves: signature "KVMKVMKVM\0\0\0".
      Leaf(0x40000000, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x0000004d),
      Leaf(0x40000001, 0x01007afb, 0, 0, 0),
      Leaf(0x80000000, intel ? 0x80000008 : 0x80000021, v.ebx, v.ecx, v.edx),
      Leaf(0x80000001, 0, 0, intel ? 0x121 : 0x75c237ff, 0x2c100800),
      Leaf(0x80000008, 0x3030, 0, 0, 0),
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
      apic_base_(0xfee00000ull | kApicBaseEn | kApicBaseExtd | (vcpu_id == 0 ? kApicBaseBsp : 0)),
      efer_(kEferLme | kEferLma),
      svr_(kFirmwareSvr) {}

cpu::CpuidEntry SimCpu::Cpuid(uint32_t leaf, uint32_t subleaf) const {
  return cpu::LookupCpuid(cpuid_, leaf, subleaf);
}

uint64_t SimCpu::Rdtsc() const {
  // The guest TSC keeps running while the VM is paused, as on KVM.
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - reset_).count();
  return static_cast<uint64_t>(static_cast<int64_t>(static_cast<uint64_t>(ns) * profile_.tsc_khz / 1000000) +
                               tsc_offset_);
}

bool SimCpu::KnowsMsr(uint32_t index) const {
  switch (index) {
    case kMsrTsc:
    case kMsrApicBase:
    case kMsrPat:
    case kMsrEfer: return true;
    default: return index >= kX2apicFirst && index <= kX2apicLast;
  }
}

std::optional<uint64_t> SimCpu::ReadMsr(uint32_t index) const {
  switch (index) {
    case kMsrTsc: return Rdtsc();
    case kMsrApicBase: return apic_base_;
    case kMsrPat: return pat_;
    case kMsrEfer: return efer_;
    case kX2apicId: return vcpu_id_;
    case kX2apicTpr: return tpr_;
    case kX2apicSvr: return svr_;
    case kX2apicEoi:
    case kX2apicSelfIpi: return std::nullopt;  // write-only
    default: return std::nullopt;  // KVM: unknown MSRs #GP (ignore_msrs=0)
  }
}

bool SimCpu::WriteMsr(uint32_t index, uint64_t value) {
  switch (index) {
    case kMsrTsc:
      tsc_offset_ += static_cast<int64_t>(value - Rdtsc());
      return true;
    case kMsrApicBase: {
      // Reserved: bits 0-7, 9, and above MAXPHYADDR; x2APIC -> xAPIC directly
      // is an invalid transition (SDM 10.12.5).
      const uint32_t maxphyaddr = Cpuid(0x80000008, 0).eax & 0xff;
      const uint64_t reserved = 0x2ffull | ~((1ull << maxphyaddr) - 1);
      if ((value & reserved) != 0) return false;
      const bool x2apic_now = (apic_base_ & (kApicBaseEn | kApicBaseExtd)) == (kApicBaseEn | kApicBaseExtd);
      const bool xapic_next = (value & (kApicBaseEn | kApicBaseExtd)) == kApicBaseEn;
      if ((value & (kApicBaseEn | kApicBaseExtd)) == kApicBaseExtd) return false;  // EXTD without EN
      if (x2apic_now && xapic_next) return false;
      // The BSP flag is read-only.
      apic_base_ = (value & ~kApicBaseBsp) | (apic_base_ & kApicBaseBsp);
      return true;
    }
    case kMsrPat:
      if (!ValidPat(value)) return false;
      pat_ = value;
      return true;
    case kMsrEfer:
      if ((value & ~EferWritable(profile_)) != 0) return false;
      // With paging on, LME cannot change; LMA is the CPU's to set.
      if (((value ^ efer_) & kEferLme) != 0) return false;
      efer_ = (value & ~kEferLma) | (efer_ & kEferLma);
      return true;
    case kX2apicTpr:
      if (value > 0xff) return false;
      tpr_ = value;
      return true;
    case kX2apicEoi: return value == 0;
    case kX2apicSvr:
      if (value >> 13) return false;
      svr_ = value;
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
    default:
      return false;
  }
}

void SimCpu::SaveState(VcpuState& state) const {
  // As on KVM: EFER and APIC_BASE travel with the special registers.
  state.msrs = {{kMsrTsc, Rdtsc()}, {kMsrPat, pat_}};
  state.sregs.apic_base = apic_base_;
  state.sregs.efer = efer_;
  state.lapic = {};
  SetLapicRegister(state.lapic, kLapicId, vcpu_id_);
  SetLapicRegister(state.lapic, kLapicTpr, static_cast<uint32_t>(tpr_));
  SetLapicRegister(state.lapic, kLapicSvr, static_cast<uint32_t>(svr_));
}

absl::Status SimCpu::RestoreState(const VcpuState& state) {
  for (const MsrValue& m : state.msrs) {
    switch (m.index) {
      case kMsrTsc: tsc_offset_ += static_cast<int64_t>(m.value - Rdtsc()); break;
      case kMsrPat: pat_ = m.value; break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("sim: the saved state holds MSR 0x", absl::Hex(m.index),
                                                       ", which the sim does not model"));
    }
  }
  apic_base_ = state.sregs.apic_base;
  efer_ = state.sregs.efer;
  tpr_ = LapicRegister(state.lapic, kLapicTpr);
  svr_ = LapicRegister(state.lapic, kLapicSvr);
  return absl::OkStatus();
}

}  // namespace vmd::hv

#include "backend/cpu/cpuid_runtime.h"

#include <algorithm>

namespace vmd::cpu {
namespace {

constexpr uint64_t kCr4Osxsave = 1ull << 18, kCr4Pke = 1ull << 22;
constexpr uint64_t kApicBaseEnable = 1ull << 11;
constexpr uint32_t kLeaf1EcxOsxsave = 1u << 27, kLeaf1EdxApic = 1u << 9;
constexpr uint32_t kLeaf7EcxOspke = 1u << 4;
constexpr uint32_t kXsave1EaxXsavec = 1u << 1, kXsave1EaxXsaves = 1u << 3;
constexpr uint32_t kXsaveLegacyAndHeader = 512 + 64;
constexpr uint32_t kCompactedAlign64 = 1u << 1;  // 0xD.i ECX[1]

void Change(uint32_t& reg, uint32_t bit, bool on) { reg = on ? reg | bit : reg & ~bit; }

CpuidEntry* Find(CpuidTable& t, uint32_t function, uint32_t index) {
  for (CpuidEntry& e : t) {
    if (e.function == function && e.index == index) return &e;
  }
  return nullptr;
}

}  // namespace

uint32_t XstateSize(const CpuidTable& table, uint64_t features, bool compacted) {
  uint32_t size = kXsaveLegacyAndHeader;
  for (uint32_t bit = 2; bit < 64; ++bit) {
    if (!(features >> bit & 1)) continue;
    const CpuidEntry c = LookupCpuid(table, 0xd, bit);
    uint32_t offset = c.ebx;
    if (compacted) offset = (c.ecx & kCompactedAlign64) ? (size + 63) & ~63u : size;
    size = std::max(size, offset + c.eax);
  }
  return size;
}

CpuidRuntime::CpuidRuntime(CpuidTable table, const CpuidCauses& causes)
    : table_(std::move(table)),
      leaf1_(Find(table_, 1, 0)),
      leaf7_(Find(table_, 7, 0)),
      xsave0_(Find(table_, 0xd, 0)),
      xsave1_(Find(table_, 0xd, 1)) {
  Recompute(causes);
}

void CpuidRuntime::OnCr4(uint64_t cr4) {
  if (leaf1_) Change(leaf1_->ecx, kLeaf1EcxOsxsave, cr4 & kCr4Osxsave);
  if (leaf7_) Change(leaf7_->ecx, kLeaf7EcxOspke, cr4 & kCr4Pke);
}

void CpuidRuntime::OnXcr0(uint64_t xcr0, uint64_t xss) {
  if (xsave0_) xsave0_->ebx = XstateSize(table_, xcr0, false);
  if (xsave1_ && (xsave1_->eax & (kXsave1EaxXsaves | kXsave1EaxXsavec))) {
    xsave1_->ebx = XstateSize(table_, xcr0 | xss, true);
  }
}

void CpuidRuntime::OnApicBase(uint64_t apic_base) {
  if (leaf1_) Change(leaf1_->edx, kLeaf1EdxApic, apic_base & kApicBaseEnable);
}

void CpuidRuntime::Recompute(const CpuidCauses& c) {
  OnCr4(c.cr4);
  OnXcr0(c.xcr0, c.xss);
  OnApicBase(c.apic_base);
}

}  // namespace vmd::cpu

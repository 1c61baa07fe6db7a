#include "backend/cpu/cpuid.h"

namespace vmd::cpu {

CpuidEntry Leaf(uint32_t function, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  return {.function = function, .index = 0, .significant_index = false, .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx};
}

CpuidEntry Subleaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  return {.function = function, .index = index, .significant_index = true, .eax = eax, .ebx = ebx, .ecx = ecx, .edx = edx};
}

const CpuidEntry* FindCpuid(std::span<const CpuidEntry> table, uint32_t function, uint32_t index) {
  for (const CpuidEntry& e : table) {
    if (e.function != function) continue;
    if (e.significant_index && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

CpuidEntry* FindCpuid(CpuidTable& table, uint32_t function, uint32_t index) {
  return const_cast<CpuidEntry*>(FindCpuid(std::span<const CpuidEntry>(table), function, index));
}

CpuidEntry LookupCpuid(std::span<const CpuidEntry> table, uint32_t function, uint32_t index) {
  if (const CpuidEntry* e = FindCpuid(table, function, index)) return *e;
  // get_out_of_range_cpuid_entry() in arch/x86/kvm/cpuid.c: on a guest that
  // is not AMD, a leaf above its class's maximum (basic, 0x4000xxxx,
  // 0x8000xxxx, 0xc000xxxx) reads as the maximum basic leaf, with the
  // subleaf asked for. Anything else missing reads as zeros.
  const CpuidEntry* basic = FindCpuid(table, 0);
  if (basic != nullptr && VendorOf(table) != CpuVendor::kAmd) {
    uint32_t class_leaf = function & 0x80000000u;
    if (function >= 0x40000000u && function <= 0x4fffffffu) {
      class_leaf = function & 0xffffff00u;
    } else if (function >= 0xc0000000u) {
      class_leaf = 0xc0000000u;
    }
    const CpuidEntry* range = FindCpuid(table, class_leaf);
    if (range == nullptr || function > range->eax) {
      if (const CpuidEntry* e = FindCpuid(table, basic->eax, index)) return *e;
    }
  }
  return {.function = function, .index = index};
}

std::optional<CpuVendor> VendorOf(std::span<const CpuidEntry> table) {
  const CpuidEntry* leaf0 = FindCpuid(table, 0);
  if (leaf0 == nullptr) return std::nullopt;
  return VendorFromCpuidLeaf0(leaf0->ebx, leaf0->ecx, leaf0->edx);
}

uint32_t CpuidSignature(uint32_t family, uint32_t model, uint32_t stepping) {
  // SDM vol. 2A, CPUID leaf 1 EAX: stepping [3:0], model [7:4], family
  // [11:8], extended model [19:16], extended family [27:20].
  const uint32_t base_family = family > 0xf ? 0xf : family;
  const uint32_t ext_family = family > 0xf ? family - 0xf : 0;
  return (stepping & 0xf) | ((model & 0xf) << 4) | (base_family << 8) | (((model >> 4) & 0xf) << 16) |
         ((ext_family & 0xff) << 20);
}

}  // namespace vmd::cpu

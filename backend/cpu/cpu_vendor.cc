#include "backend/cpu/cpu_vendor.h"

namespace vmd::cpu {
namespace {

// "GenuineIntel" and "AuthenticAMD" as CPUID leaf 0 returns them.
constexpr VendorRegisters kIntel = {.ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69};
constexpr VendorRegisters kAmd = {.ebx = 0x68747541, .ecx = 0x444d4163, .edx = 0x69746e65};

}  // namespace

absl::string_view CpuVendorName(CpuVendor vendor) { return vendor == CpuVendor::kAmd ? "amd" : "intel"; }

std::optional<CpuVendor> ParseCpuVendor(absl::string_view name) {
  if (name == "intel") return CpuVendor::kIntel;
  if (name == "amd") return CpuVendor::kAmd;
  return std::nullopt;
}

std::optional<CpuVendor> VendorFromCpuidLeaf0(uint32_t ebx, uint32_t ecx, uint32_t edx) {
  if (ebx == kIntel.ebx && ecx == kIntel.ecx && edx == kIntel.edx) return CpuVendor::kIntel;
  if (ebx == kAmd.ebx && ecx == kAmd.ecx && edx == kAmd.edx) return CpuVendor::kAmd;
  return std::nullopt;
}

VendorRegisters CpuidVendorRegisters(CpuVendor vendor) { return vendor == CpuVendor::kAmd ? kAmd : kIntel; }

}  // namespace vmd::cpu

// The x86 CPU vendors vmd knows, for the whole project: host profiles, the
// CPUID builder, MSR presets and the host inventory all use this one enum.
#ifndef VMD_BACKEND_CPU_CPU_VENDOR_H_
#define VMD_BACKEND_CPU_CPU_VENDOR_H_

#include <cstdint>
#include <optional>
#include "absl/strings/string_view.h"

namespace vmd::cpu {

enum class CpuVendor { kIntel, kAmd };

// "intel" or "amd", as the API spells it.
absl::string_view CpuVendorName(CpuVendor vendor);
std::optional<CpuVendor> ParseCpuVendor(absl::string_view name);

// From CPUID leaf 0's vendor string (EBX, EDX, ECX): "GenuineIntel" or
// "AuthenticAMD"; nullopt for anything else.
std::optional<CpuVendor> VendorFromCpuidLeaf0(uint32_t ebx, uint32_t ecx, uint32_t edx);

// The CPUID leaf 0 vendor string registers of `vendor`.
struct VendorRegisters {
  uint32_t ebx, ecx, edx;
};
VendorRegisters CpuidVendorRegisters(CpuVendor vendor);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_CPU_VENDOR_H_

// CPUID as backend-neutral data: what a guest reads for (leaf, subleaf).
// The kvm backend converts to and from struct kvm_cpuid_entry2 at the ioctl;
// the sim backend answers guest CPUIDs from the same table.
#ifndef VMD_BACKEND_CPU_CPUID_H_
#define VMD_BACKEND_CPU_CPUID_H_

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "backend/cpu/cpu_vendor.h"

namespace vmd::cpu {

struct CpuidEntry {
  uint32_t function = 0;
  uint32_t index = 0;
  // Whether `index` (ECX on input) selects among subleaves of `function`
  // (KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
  bool significant_index = false;
  uint32_t eax = 0, ebx = 0, ecx = 0, edx = 0;
  friend bool operator==(const CpuidEntry&, const CpuidEntry&) = default;
};
using CpuidTable = std::vector<CpuidEntry>;

// The one way to write an entry: a leaf without subleaves, or subleaf `index`.
CpuidEntry Leaf(uint32_t function, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx);
CpuidEntry Subleaf(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx);

// The entry for (function, index), or nullptr. `index` matters only for
// entries with significant_index.
const CpuidEntry* FindCpuid(std::span<const CpuidEntry> table, uint32_t function, uint32_t index = 0);
CpuidEntry* FindCpuid(CpuidTable& table, uint32_t function, uint32_t index = 0);

// What the CPU answers to CPUID(function, index) with this table, as KVM
// does (kvm_cpuid()): a basic leaf above the maximum basic leaf reads as the
// maximum basic leaf; a leaf missing inside its range reads as zeros.
CpuidEntry LookupCpuid(std::span<const CpuidEntry> table, uint32_t function, uint32_t index);

// The vendor of leaf 0's string, if it is one vmd knows.
std::optional<CpuVendor> VendorOf(std::span<const CpuidEntry> table);

// CPUID.1:EAX of family/model/stepping, with the extended family and model
// fields the SDM defines (family above 0xf, model above 0xf).
uint32_t CpuidSignature(uint32_t family, uint32_t model, uint32_t stepping);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_CPUID_H_

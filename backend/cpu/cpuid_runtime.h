// The guest CPUID bits that follow vCPU state, as KVM keeps them
// (kvm_update_cpuid_runtime(), split per cause by seed 001 "Split
// kvm_update_cpuid_runtime()"): OSXSAVE after CR4.OSXSAVE, OSPKE after
// CR4.PKE, leaf 0xD's sizes after XCR0 (and IA32_XSS), the APIC bit after
// APIC_BASE.EN. Each cause updates only its own entries; Recompute() is the
// whole update (what KVM did before the split), kept as the baseline the
// benchmark compares with. MONITOR after MISC_ENABLE.MWAIT is updated only
// with KVM_X86_QUIRK_MISC_ENABLE_NO_MWAIT disabled, which no VM here does.
#ifndef VMD_BACKEND_CPU_CPUID_RUNTIME_H_
#define VMD_BACKEND_CPU_CPUID_RUNTIME_H_

#include <cstdint>

#include "backend/cpu/cpuid.h"

namespace vmd::cpu {

struct CpuidCauses {
  uint64_t cr4 = 0;
  uint64_t xcr0 = 1;  // x87 at reset
  uint64_t xss = 0;
  uint64_t apic_base = 0;
};

class CpuidRuntime {
 public:
  // `table` is the vCPU's CPUID as user space set it; `causes` the state at
  // that moment.
  CpuidRuntime(CpuidTable table, const CpuidCauses& causes);

  const CpuidTable& table() const { return table_; }

  void OnCr4(uint64_t cr4);
  void OnXcr0(uint64_t xcr0, uint64_t xss);
  void OnApicBase(uint64_t apic_base);
  // Every cause at once.
  void Recompute(const CpuidCauses& causes);

 private:
  CpuidTable table_;
  // The entries the causes touch (nullptr when the table lacks them); the
  // table is never resized after construction.
  CpuidEntry* leaf1_;
  CpuidEntry* leaf7_;
  CpuidEntry* xsave0_;
  CpuidEntry* xsave1_;
};

// xstate_required_size(): the XSAVE area for `features` (bits 2 and up per
// leaf 0xD's subleaves; at least the 512-byte legacy area and 64-byte
// header), standard or compacted layout.
uint32_t XstateSize(const CpuidTable& table, uint64_t features, bool compacted);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_CPUID_RUNTIME_H_

// The MSRs KVM emulates, as data: for each, which vendor's KVM handles it
// (common x86.c code, vmx/ or svm/), the guest CPUID bit KVM checks before
// a guest access, its value after vCPU creation, the bits a guest write may
// not set, and the rule for the write (a kind; the few side effects are in
// sim_msr_state.cc). Whether KVM_GET_MSR_INDEX_LIST and
// KVM_GET_MSR_FEATURE_INDEX_LIST name it is here too, so that the sim's
// lists can be checked against the kvm backend's (tests/conformance).
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_MSR_TABLE_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_MSR_TABLE_H_

#include <cstdint>
#include <span>
#include <string_view>

#include "backend/cpu/cpu_vendor.h"

namespace vmd::hv {

// Which vendors' KVM handles an MSR (or lists it).
enum SimVendors : uint8_t { kSimNone = 0, kSimIntel = 1, kSimAmd = 2, kSimBoth = 3 };
bool SimVendorsHave(uint8_t vendors, cpu::CpuVendor vendor);

// A CPUID bit: (leaf, subleaf) register bit. leaf 0 with bit 0xff = none.
struct CpuidBit {
  enum Reg : uint8_t { kEax, kEbx, kEcx, kEdx };
  uint32_t leaf = 0;
  uint32_t subleaf = 0;
  Reg reg = kEax;
  uint8_t bit = 0xff;
  bool none() const { return bit == 0xff; }
};

enum class SimMsrKind : uint8_t {
  kStored,        // read: the value; write: #GP if a reserved bit is set, else stored
  kReadOnly,      // read: the value; every guest write #GPs (host-initiated only)
  kWriteIgnored,  // read: the value; a guest write is accepted and dropped
  kWriteOnly,     // every read #GPs; write: #GP if a reserved bit is set, else dropped
  kNoGuestAccess, // KVM knows it, but refuses every guest access (e.g. MCG_CTL without MCG_CTL_P)
  kCanonical,     // stored; a non-canonical value #GPs (__kvm_set_msr)
  kSysenterAddr,  // canonicalised (__kvm_set_msr); SVM keeps only 32 bits for AMD guests
  kPat,           // kvm_pat_valid()
  kMtrrDefType,   // kvm_mtrr_valid(): type in [7:0] valid, reserved bits
  kMtrrFixed,     // each byte a valid memory type
  kMtrrPhysBase,  // even: PHYSBASE (type valid, bits 8-11 reserved); odd: PHYSMASK (bits 0-10); both below MAXPHYADDR
  kMcBank,        // MCi_CTL: 0 or all ones (bits 0, 10 may be clear); MCi_STATUS: 0 unless HWCR.McStatusWrEn
  kHwcr,          // svm: bits 3, 6, 8 dropped; bit 18 (McStatusWrEn) kept; others #GP
  kTsc,           // the guest TSC; a write moves TSC_ADJUST by as much
  kTscAdjust,     // a write moves the TSC by the change
  kApicBase,      // kvm_apic_set_base(): mode transitions, reserved bits
  kEfer,          // set_efer(): reserved by CPUID, LME fixed while paging, LMA kept
  kPageAddress,   // page-aligned, below MAXPHYADDR (VM_HSAVE_PA); low 12 bits dropped
};

struct SimMsrSpec {
  uint32_t index;
  uint32_t count;  // a block of MSRs with the same rules
  std::string_view name;
  uint8_t vendors;     // whose KVM handles it
  SimMsrKind kind;
  uint64_t reset;      // after vCPU creation (before the firmware runs)
  uint64_t reserved;   // bits a guest write may not set
  CpuidBit gate;       // without it in the guest CPUID, guest accesses #GP
  uint8_t listed;      // vendors whose KVM_GET_MSR_INDEX_LIST names it
  bool feature;        // KVM_GET_MSR_FEATURE_INDEX_LIST names it
};

std::span<const SimMsrSpec> SimMsrTable();
// The spec covering `index` for `vendor`'s KVM, or nullptr when it has no
// case for it (an access KVM calls unknown: #GP, or a UNKNOWN exit).
const SimMsrSpec* FindSimMsr(uint32_t index, cpu::CpuVendor vendor);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_MSR_TABLE_H_

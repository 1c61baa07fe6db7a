// Everything the firmware needs to start directly in 64-bit long mode: the
// identity-mapped page tables and boot GDT/TSS in guest memory, and the
// register state every vCPU enters with (guest_abi.h has the layout).
#ifndef VMD_BACKEND_HYPERVISOR_KVM_LONG_MODE_SETUP_H_
#define VMD_BACKEND_HYPERVISOR_KVM_LONG_MODE_SETUP_H_

#include <linux/kvm.h>

#include <cstdint>

#include "absl/status/status.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv::kvm {

// Bytes of guest memory the layout needs for `vcpus` vCPUs (through the last
// stack), and at least VMD_MIN_MEMORY_MIB.
uint64_t MinimumGuestMemory(uint32_t vcpus);

// How much of guest-physical space the page tables identity-map: all of RAM
// rounded up to a GiB, at most VMD_IDENTITY_MAP_MAX_BYTES.
uint64_t IdentityMappedBytes(uint64_t memory_bytes);

// Writes the page tables (PML4, PDPT, 2 MiB-page PDs), the boot GDT and the
// boot TSS.
absl::Status WriteLongModeTables(GuestMemory& memory);

// The entry state of vCPU `vcpu_id`. `sregs` comes from KVM_GET_SREGS so that
// the fields KVM owns (APIC base, pending interrupt bitmap) are kept.
void SetLongModeSregs(kvm_sregs& sregs);
kvm_regs LongModeEntryRegs(uint32_t vcpu_id, uint64_t entry_gpa);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_LONG_MODE_SETUP_H_

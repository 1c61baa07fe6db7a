// Boots the guest firmware directly in 64-bit long mode, the same way on
// every backend: the image copied into guest memory with its identity-mapped
// page tables and boot GDT/TSS, and the register state every vCPU enters
// with (guest_abi.h has the layout).
#ifndef VMD_BACKEND_GUEST_FIRMWARE_LOADER_H_
#define VMD_BACKEND_GUEST_FIRMWARE_LOADER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "backend/hypervisor/vcpu_state.h"
#include "backend/memory/guest_memory.h"

namespace vmd::guest {

// Bytes of guest memory the layout needs for `vcpus` vCPUs (through the last
// stack), and at least VMD_MIN_MEMORY_MIB.
uint64_t MinimumGuestMemory(uint32_t vcpus);

// How much of guest-physical space the page tables identity-map: at least
// the first 4 GiB (RAM and the MMIO hole below 4 GiB, where devices are), up
// to the end of the last RAM region rounded up to a GiB, at most
// VMD_IDENTITY_MAP_MAX_BYTES.
uint64_t IdentityMappedBytes(uint64_t ram_end);

// Writes the page tables (PML4, PDPT, 2 MiB-page PDs), the boot GDT and the
// boot TSS.
absl::Status WriteLongModeTables(hv::GuestMemory& memory);

// Checks that `memory` holds `vcpus` vCPUs' firmware layout, copies the
// image to VMD_FIRMWARE_GPA and writes the long-mode tables. The boot info
// (VMD_BOOT_INFO_GPA) is the engine's to write.
absl::Status LoadFirmware(hv::GuestMemory& memory, uint32_t vcpus);

// The long-mode entry state of vCPU `vcpu_id` at `entry_gpa`: flat 64-bit
// segments, paging on with the boot page tables, RSP its stack, RDI its id,
// RSI the boot info. The APIC base and pending-interrupt fields are left to
// the vCPU's reset values.
hv::BootEntry LongModeEntry(uint32_t vcpu_id, uint64_t entry_gpa);
// LongModeEntry at the firmware's entry point.
hv::BootEntry FirmwareEntry(uint32_t vcpu_id);

}  // namespace vmd::guest

#endif  // VMD_BACKEND_GUEST_FIRMWARE_LOADER_H_

// The one MSI encoding of the project: a fixed-mode, edge-triggered MSI to
// an x2APIC id in the format of KVM_X2APIC_API_USE_32BIT_IDS, which every
// VM of both backends uses (destination bits 7:0 in address_lo[19:12], bits
// 31:8 in address_hi[31:8]; data: the vector).
#ifndef VMD_BACKEND_HYPERVISOR_MSI_H_
#define VMD_BACKEND_HYPERVISOR_MSI_H_

#include <cstdint>

namespace vmd::hv {

struct MsiMessage {
  uint32_t address_lo = 0;
  uint32_t address_hi = 0;
  uint32_t data = 0;
  friend bool operator==(const MsiMessage&, const MsiMessage&) = default;
};

inline constexpr uint32_t kMsiAddressBase = 0xfee00000;

constexpr MsiMessage FixedMsi(uint32_t dest_apic_id, uint8_t vector) {
  return {.address_lo = kMsiAddressBase | ((dest_apic_id & 0xffu) << 12),
          .address_hi = dest_apic_id & 0xffffff00u,
          .data = vector};
}

// The destination and vector of a message FixedMsi could have made; false
// for anything else (another address, delivery mode or trigger).
struct FixedMsiTarget {
  uint32_t dest_apic_id = 0;
  uint8_t vector = 0;
};
constexpr bool DecodeFixedMsi(const MsiMessage& msi, FixedMsiTarget* target) {
  if ((msi.address_lo & 0xfff00fffu) != kMsiAddressBase || (msi.address_hi & 0xffu) != 0 ||
      (msi.data & ~0xffu) != 0) {
    return false;
  }
  target->dest_apic_id = msi.address_hi | ((msi.address_lo >> 12) & 0xffu);
  target->vector = static_cast<uint8_t>(msi.data);
  return true;
}

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_MSI_H_

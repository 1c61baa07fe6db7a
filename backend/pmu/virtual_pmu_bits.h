// Bit helpers the virtual PMU's two files share (virtual_pmu.cc: the guest's
// accesses; virtual_pmu_state.cc: snapshots). Internal to backend/pmu.
#ifndef VMD_BACKEND_PMU_VIRTUAL_PMU_BITS_H_
#define VMD_BACKEND_PMU_VIRTUAL_PMU_BITS_H_

#include <cstdint>

namespace vmd::pmu::bits {

inline uint64_t LowBits(uint32_t n) { return n >= 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1; }
inline bool Bit(uint64_t v, uint32_t i) { return (v >> i) & 1; }
inline uint64_t SignExtend32(uint64_t v) { return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v))); }

// is_noncanonical_msr_address() for a 48-bit guest (no shape grants LA57).
inline bool Canonical48(uint64_t v) {
  const uint64_t top = v >> 47;
  return top == 0 || top == (~uint64_t{0} >> 47);
}

inline bool InBlock(uint32_t index, uint32_t first, uint32_t count, uint32_t* i) {
  if (index < first || index - first >= count) return false;
  *i = index - first;
  return true;
}

}  // namespace vmd::pmu::bits

#endif  // VMD_BACKEND_PMU_VIRTUAL_PMU_BITS_H_

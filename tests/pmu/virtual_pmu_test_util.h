// What the virtual PMU's tests share: a clock they drive, and shapes.
#ifndef VMD_TESTS_PMU_VIRTUAL_PMU_TEST_UTIL_H_
#define VMD_TESTS_PMU_VIRTUAL_PMU_TEST_UTIL_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "backend/pmu/pmu_msrs.h"
#include "backend/pmu/virtual_pmu.h"

namespace vmd::pmu::test_util {

// Time the tests drive: per vCPU core and reference cycles.
class FakeClock : public PmuClock {
 public:
  explicit FakeClock(uint32_t vcpus = 4) : core_(vcpus), ref_(vcpus) {}
  uint64_t CoreCycles(uint32_t vcpu) override { return core_[vcpu].load(); }
  uint64_t RefCycles(uint32_t vcpu) override { return ref_[vcpu].load(); }
  void Advance(uint32_t vcpu, uint64_t core, uint64_t ref) {
    core_[vcpu] += core;
    ref_[vcpu] += ref;
  }

 private:
  std::vector<std::atomic<uint64_t>> core_, ref_;
};

inline constexpr uint64_t kCyclesEvent = kEvtSelEnable | kEvtSelOs | kEventCoreCycles;
inline constexpr uint64_t kRefEvent = kEvtSelEnable | kEvtSelUsr | (uint64_t{kUmaskRefCycles} << 8) | kEventCoreCycles;
inline constexpr uint64_t kMask48 = (uint64_t{1} << 48) - 1;

inline VirtualPmuShape Shape(uint32_t version, uint32_t gp = 4, uint32_t fixed = 3) {
  VirtualPmuShape s;
  s.version = version;
  s.gp_counters = gp;
  s.fixed_counters = fixed;
  return s;
}

inline bool Exists(VirtualPmu& pmu, uint32_t index) { return pmu.Read(0, index).has_value(); }

inline VirtualPmuShape LegacyLbrShape(uint32_t version, uint32_t depth, uint64_t format) {
  VirtualPmuShape s = Shape(version, 4, 3);
  s.pdcm = true;
  s.perf_capabilities = format;
  s.lbr = LbrKind::kLegacy;
  s.lbr_depth = depth;
  return s;
}

inline VirtualPmuShape ArchLbrShape(uint32_t bitmap) {
  VirtualPmuShape s = Shape(5, 8, 4);
  s.pdcm = true;
  s.perf_capabilities = 0x3f;
  s.lbr = LbrKind::kArch;
  s.arch_lbr_depth_bitmap = bitmap;
  return s;
}

}  // namespace vmd::pmu::test_util

#endif  // VMD_TESTS_PMU_VIRTUAL_PMU_TEST_UTIL_H_

// Nanoseconds as cycles of a clock of `khz` kHz (the guest TSC), without the
// overflow of ns * khz, which passes 2^64 after about two hours at GHz rates.
#ifndef VMD_BACKEND_CPU_TSC_CYCLES_H_
#define VMD_BACKEND_CPU_TSC_CYCLES_H_

#include <cstdint>

namespace vmd::cpu {

constexpr uint64_t NsToCycles(uint64_t ns, uint64_t khz) {
  return ns / 1'000'000 * khz + ns % 1'000'000 * khz / 1'000'000;
}

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_TSC_CYCLES_H_

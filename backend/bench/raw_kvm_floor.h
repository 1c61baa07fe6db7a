// The floor of the guest micro-benchmarks: the cheapest PIO round trip KVM
// gives on this host, measured the same way as the engine's. A VM of its own
// (the same VM-wide setup as the engine's VMs: in-kernel irqchip, x2APIC API,
// user-space MSR exits) runs a few hand-assembled instructions -- the bench's
// timed window `rdtsc; mov %eax,%r8d; out %al,$VMD_PORT_BENCH_PIO; rdtsc` in a
// loop -- and the host loop only calls KVM_RUN again, at once, on every PIO
// exit: no exit mapping, no device dispatch, no locks.
#ifndef VMD_BACKEND_BENCH_RAW_KVM_FLOOR_H_
#define VMD_BACKEND_BENCH_RAW_KVM_FLOOR_H_

#include <chrono>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace vmd::engine::bench {

struct FloorSamples {
  std::vector<uint32_t> cycles;  // one per round trip, guest TSC cycles
  uint64_t tsc_khz = 0;          // the floor vCPU's TSC frequency
};

// Runs `iterations` round trips (fewer if `budget` runs out first) in a
// fresh VM, then destroys it.
absl::StatusOr<FloorSamples> RunRawKvmFloor(uint64_t iterations, std::chrono::milliseconds budget);

}  // namespace vmd::engine::bench

#endif  // VMD_BACKEND_BENCH_RAW_KVM_FLOOR_H_

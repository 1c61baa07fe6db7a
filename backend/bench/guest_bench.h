// Guest micro-benchmarks (vmd.v1.ProbeService.RunGuestBench) on the engine's
// running VM, after kvm-unit-tests' arm micro-bench ("IPI/LPI/vtimer latency
// test"): the guest firmware times round trips with RDTSC (guest_abi.h,
// VMD_PROBE_BENCH_*) while the engine's own vCPU loop serves them, and a raw
// KVM_RUN loop in a VM of its own, timed the same way, gives the floor.
//
//   pio_exit       out8 to the bench port: exit, the vCPU loop, IoBus, re-entry
//   msr_user_exit  RDMSR of VMD_BENCH_MSR: the MSR filter sends it to user
//                  space, the engine's MSR policy answers (EMULATE, constant)
//   msr_vpmu       RDMSR of IA32_PMC0 when the engine's vPMU serves the VM
//                  (a PMU grant of the engine layer): claim, exit, register model
//   msr_kernel     RDMSR of IA32_PAT, handled by KVM in the kernel
//   cpuid_exit     CPUID leaf 0, handled by KVM in the kernel
//   msi_irqfd      out8 asks the engine to write an irqfd eventfd, routed to
//                  an MSI (KVM_SET_GSI_ROUTING + KVM_IRQFD): until the guest's
//                  handler of the bench vector runs
//   ipi            vCPU 0 sends an x2APIC IPI to vCPU 1 (VMs of 2+ vCPUs):
//                  until vCPU 1's handler runs
//   lapic_timer    the TSC-deadline timer kTimerAheadUs out: from the
//                  deadline until the handler runs
//   raw_kvm_pio    (the floor) as pio_exit, in the raw loop
// Each measurement stops early once it has run kMeasurementBudget: on a host
// whose KVM emulates guest code a million round trips take minutes.
#ifndef VMD_BACKEND_BENCH_GUEST_BENCH_H_
#define VMD_BACKEND_BENCH_GUEST_BENCH_H_

#include <chrono>
#include <cstdint>

#include "absl/status/statusor.h"
#include "backend/guest/guest_abi.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::engine {
class VmRunner;
}

namespace vmd::engine::bench {

inline constexpr uint32_t kDefaultIterations = 10000;
inline constexpr uint32_t kMaxIterations = VMD_BENCH_MAX_ITERATIONS;
inline constexpr std::chrono::milliseconds kMeasurementBudget{20000};
inline constexpr uint32_t kKernelMsr = 0x277;  // IA32_PAT
inline constexpr uint32_t kVpmuMsr = 0xc1;     // IA32_PMC0, with the engine's vPMU
inline constexpr uint32_t kCpuidLeaf = 0;
inline constexpr uint32_t kTimerAheadUs = 20;  // the LAPIC timer bench's deadline

// INVALID_ARGUMENT for more than kMaxIterations; FAILED_PRECONDITION unless
// the VM runs workload "probe" on kvm; ABORTED while another bench runs on
// the VM. Changes the VM's MSR policy for the msr_user_exit measurement and
// restores it after.
absl::StatusOr<vmd::v1::GuestBenchReport> RunGuestBench(
    VmRunner& runner, const vmd::v1::RunGuestBenchRequest& request);

}  // namespace vmd::engine::bench

#endif  // VMD_BACKEND_BENCH_GUEST_BENCH_H_

#include "backend/bench/guest_bench.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/bench/bench_device.h"
#include "backend/bench/latency_stats.h"
#include "backend/bench/raw_kvm_floor.h"
#include "backend/engine/vm_runner.h"
#include "backend/hypervisor/msi.h"
#include "backend/hypervisor/msi_irqfd.h"

namespace vmd::engine::bench {
namespace {

constexpr uint64_t k2MiB = 2ull << 20;
// How long past its budget a measurement may take before the engine gives
// up on the guest: the last round trip, and an MSI that never comes.
constexpr std::chrono::milliseconds kGuestSlack{15000};

// One engine-side measurement: a bench op kind run by the firmware.
struct Measurement {
  const char* name;
  uint32_t kind;
  uint32_t index;
  std::string description;
};

// The bench MSR, claimed by the engine for the msr_user_exit measurement:
// reads answer VMD_BENCH_MSR_VALUE, writes #GP.
class BenchMsrClaim final : public MsrClaimHandler {
 public:
  msr::MsrAccessResult ReadMsr(uint32_t, uint32_t) override {
    return msr::MsrAccessResult::Value(VMD_BENCH_MSR_VALUE);
  }
  msr::MsrAccessResult WriteMsr(uint32_t, uint32_t, uint64_t) override { return msr::MsrAccessResult::Gp(); }
};

// Where the engine puts the sample buffer: VMD_BENCH_SAMPLES_GPA, or after
// the last vCPU stack when the stacks reach past it.
uint64_t SampleBufferGpa(uint32_t vcpus) {
  const uint64_t stacks_end = VMD_STACKS_GPA + uint64_t{vcpus} * VMD_STACK_BYTES;
  return std::max<uint64_t>(VMD_BENCH_SAMPLES_GPA, (stacks_end + k2MiB - 1) / k2MiB * k2MiB);
}

// What a stopped-early or clamped measurement says about itself.
std::string Coverage(uint64_t samples, uint64_t requested, uint64_t asked) {
  std::string note;
  if (samples < requested) {
    absl::StrAppend(&note, "; stopped after the ", kMeasurementBudget.count() / 1000,
                    " s budget: ", samples, " of ", requested, " round trips");
  }
  if (requested < asked) {
    absl::StrAppend(&note, "; ", requested, " of the ", asked,
                    " round trips asked for fit the guest's sample buffer");
  }
  return note;
}

vmd::v1::LatencyFigures Figures(const std::string& name, const std::string& description,
                                std::span<const uint32_t> cycles, uint64_t tsc_khz) {
  LatencySummary summary = Summarize(cycles, tsc_khz);
  vmd::v1::LatencyFigures f;
  f.set_name(name);
  f.set_description(description);
  f.set_samples(summary.samples);
  f.set_p50_ns(summary.p50_ns);
  f.set_p99_ns(summary.p99_ns);
  f.set_p50_cycles(summary.p50_cycles);
  f.set_p99_cycles(summary.p99_cycles);
  return f;
}

class BenchRun {
 public:
  BenchRun(VmRunner& runner, uint64_t tsc_khz, uint64_t iterations, uint64_t asked,
           uint64_t sample_gpa)
      : runner_(runner),
        tsc_khz_(tsc_khz),
        iterations_(iterations),
        asked_(asked),
        sample_gpa_(sample_gpa) {}

  // Runs `m` on vCPU 0 and returns its samples (TSC cycles).
  absl::StatusOr<std::vector<uint32_t>> RunInGuest(const Measurement& m, uint64_t* last_msr_value) {
    vmd_probe_op op{};
    op.kind = m.kind;
    op.index = m.index;
    op.subleaf = static_cast<uint32_t>(kMeasurementBudget.count());
    op.arg = iterations_;
    op.arg2 = sample_gpa_;
    absl::StatusOr<std::vector<vmd_probe_op>> done = runner_.RunMailboxOps(
        std::span<const vmd_probe_op>(&op, 1), kMeasurementBudget + kGuestSlack);
    if (!done.ok()) {
      return absl::Status(done.status().code(),
                          absl::StrCat(m.name, ": ", done.status().message()));
    }
    const vmd_probe_op& result = done->front();
    const uint64_t samples = result.out[0];
    switch (result.status) {
      case VMD_PROBE_OK:
        break;
      case VMD_PROBE_FAULT:
        return absl::InternalError(absl::StrCat(m.name, ": the guest took exception ",
                                                result.vector, " after ", samples, " round trips"));
      case VMD_PROBE_TIMEOUT:
        if (result.vector == VMD_VECTOR_SHUTDOWN) {
          return absl::AbortedError(absl::StrCat(m.name, ": the guest is shutting down (after ",
                                                 samples, " round trips)"));
        }
        return absl::InternalError(absl::StrCat(m.name, ": interrupt vector ", VMD_VECTOR_BENCH,
                                                " did not arrive within ", VMD_BENCH_MSI_TIMEOUT_MS,
                                                " ms of request ", samples + 1));
      default:
        return absl::InternalError(
            absl::StrCat(m.name, ": the guest left the op with status ", result.status));
    }
    if (samples == 0 || samples > iterations_) {
      return absl::InternalError(
          absl::StrCat(m.name, ": the guest reported ", samples, " samples of ", iterations_));
    }
    if (last_msr_value != nullptr) *last_msr_value = result.out[2];
    std::span<const uint8_t> bytes =
        runner_.memory().Slice(sample_gpa_, samples * sizeof(uint32_t));
    std::vector<uint32_t> cycles(samples);
    std::memcpy(cycles.data(), bytes.data(), bytes.size());
    return cycles;
  }

  absl::StatusOr<vmd::v1::LatencyFigures> Measure(const Measurement& m) {
    absl::StatusOr<std::vector<uint32_t>> cycles = RunInGuest(m, nullptr);
    if (!cycles.ok()) return cycles.status();
    return Done(m, *cycles);
  }

  // msr_user_exit: the engine claims VMD_BENCH_MSR for the measurement only
  // (claims come before the VM's MSR policy, which stays in force).
  absl::StatusOr<vmd::v1::LatencyFigures> MeasureUserMsr(const Measurement& m) {
    BenchMsrClaim claim;
    MsrExitRouter& router = runner_.msr_router();
    if (absl::Status s = router.Claim("guest-bench", {{.first = VMD_BENCH_MSR, .count = 1,
                                                        .access = vmd::v1::MSR_ACCESS_READ}},
                                      &claim);
        !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(m.name, ": cannot trap the bench MSR: ", s.message()));
    }
    uint64_t value = 0;
    absl::StatusOr<std::vector<uint32_t>> cycles = RunInGuest(m, &value);
    if (absl::Status s = router.Release("guest-bench"); !s.ok()) {
      return absl::Status(s.code(), absl::StrCat(m.name, ": cannot remove the bench MSR trap: ", s.message()));
    }
    if (!cycles.ok()) return cycles.status();
    if (value != VMD_BENCH_MSR_VALUE) {
      return absl::InternalError(absl::StrFormat(
          "%s: MSR 0x%x read 0x%x, not the engine's answer 0x%x: the read did not reach user space",
          m.name, VMD_BENCH_MSR, value, VMD_BENCH_MSR_VALUE));
    }
    return Done(m, *cycles);
  }

  // msi_irqfd: a GSI routed to the bench MSI and its irqfd, armed on the
  // bench device for the measurement only.
  absl::StatusOr<vmd::v1::LatencyFigures> MeasureMsi(const Measurement& m) {
    absl::StatusOr<std::unique_ptr<hv::MsiIrqfd>> irqfd =
        hv::MsiIrqfd::Create(runner_.vm(), hv::FixedMsi(/*dest_apic_id=*/0, VMD_VECTOR_BENCH));
    if (!irqfd.ok()) {
      return absl::Status(irqfd.status().code(),
                          absl::StrCat(m.name, ": ", irqfd.status().message()));
    }
    BenchDevice& device = runner_.bench_device();
    device.ArmMsi((*irqfd)->eventfd());
    absl::StatusOr<std::vector<uint32_t>> cycles = RunInGuest(m, nullptr);
    device.DisarmMsi();
    irqfd->reset();
    if (!cycles.ok()) return cycles.status();
    return Done(m, *cycles);
  }

 private:
  vmd::v1::LatencyFigures Done(const Measurement& m, std::span<const uint32_t> cycles) {
    return Figures(m.name, m.description + Coverage(cycles.size(), iterations_, asked_), cycles,
                   tsc_khz_);
  }

  VmRunner& runner_;
  const uint64_t tsc_khz_;
  const uint64_t iterations_;
  const uint64_t asked_;
  const uint64_t sample_gpa_;
};

}  // namespace

absl::StatusOr<vmd::v1::GuestBenchReport> RunGuestBench(
    VmRunner& runner, const vmd::v1::RunGuestBenchRequest& request) {
  if (request.iterations() > kMaxIterations) {
    return absl::InvalidArgumentError(absl::StrCat("iterations: must be at most ", kMaxIterations));
  }
  const uint64_t asked = request.iterations() == 0 ? kDefaultIterations : request.iterations();
  if (runner.Status().backend != hv::BackendKind::kKvm) {
    return absl::FailedPreconditionError(
        "guest micro-benchmarks time real VM exits and need the kvm backend; this VM runs on sim");
  }
  const EngineConfig& config = runner.config();
  if (config.workload() != "probe") {
    return absl::FailedPreconditionError(
        absl::StrCat("guest micro-benchmarks need workload probe; this VM runs ", config.workload()));
  }
  // What LoadGuest put in the boot info for the firmware: the guest's TSC.
  const uint64_t tsc_khz = runner.memory().At<vmd_boot_info>(VMD_BOOT_INFO_GPA)->tsc_khz;
  if (tsc_khz == 0) return absl::InternalError("the guest TSC frequency is unknown");

  std::unique_lock session(runner.bench_device().session(), std::try_to_lock);
  if (!session.owns_lock()) {
    return absl::AbortedError("a guest bench is already running on this VM");
  }

  const uint64_t sample_gpa = SampleBufferGpa(config.vcpus());
  const uint64_t memory_bytes = runner.memory().size();
  const uint64_t capacity =
      memory_bytes > sample_gpa ? (memory_bytes - sample_gpa) / sizeof(uint32_t) : 0;
  if (capacity == 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "guest memory of %u bytes leaves no room for the bench's sample buffer at 0x%x",
        memory_bytes, sample_gpa));
  }
  const uint64_t iterations = std::min(asked, capacity);
  BenchRun run(runner, tsc_khz, iterations, asked, sample_gpa);

  const Measurement pio{"pio_exit", VMD_PROBE_BENCH_PIO, 0,
                        absl::StrFormat("PIO exit handled by the engine: out8 to port 0x%x through "
                                        "the vCPU loop and the IoBus (null device)",
                                        VMD_PORT_BENCH_PIO)};
  const Measurement user_msr{
      "msr_user_exit", VMD_PROBE_BENCH_RDMSR, VMD_BENCH_MSR,
      absl::StrFormat("RDMSR 0x%x: the MSR filter exits to user space, the engine's MSR policy "
                      "answers (EMULATE, constant)",
                      VMD_BENCH_MSR)};
  const Measurement kernel_msr{
      "msr_kernel", VMD_PROBE_BENCH_RDMSR, kKernelMsr,
      absl::StrFormat("RDMSR 0x%x (IA32_PAT), handled by KVM in the kernel", kKernelMsr)};
  const Measurement cpuid{
      "cpuid_exit", VMD_PROBE_BENCH_CPUID, kCpuidLeaf,
      absl::StrFormat("CPUID leaf 0x%x, handled by KVM in the kernel", kCpuidLeaf)};
  const Measurement msi{
      "msi_irqfd", VMD_PROBE_BENCH_MSI, 0,
      absl::StrFormat(
          "out8 to port 0x%x, the engine writes an irqfd eventfd routed to an MSI "
          "(KVM_SET_GSI_ROUTING, KVM_IRQFD), until the guest's handler of vector 0x%x runs",
          VMD_PORT_BENCH_MSI, VMD_VECTOR_BENCH)};

  vmd::v1::GuestBenchReport report;
  report.set_tsc_khz(tsc_khz);
  auto add = [&report](absl::StatusOr<vmd::v1::LatencyFigures> figures) {
    if (!figures.ok()) return figures.status();
    *report.add_results() = *std::move(figures);
    return absl::OkStatus();
  };
  if (absl::Status s = add(run.Measure(pio)); !s.ok()) return s;

  // The floor right after the engine's PIO loop, so that the two compare
  // under the same host conditions.
  absl::StatusOr<FloorSamples> floor = RunRawKvmFloor(iterations, kMeasurementBudget);
  if (!floor.ok()) {
    return absl::Status(floor.status().code(),
                        absl::StrCat("raw_kvm_pio: ", floor.status().message()));
  }
  *report.mutable_raw_kvm_floor() =
      Figures("raw_kvm_pio",
              absl::StrFormat("the floor: out8 to port 0x%x in a VM of its own whose host loop "
                              "re-enters KVM_RUN at once on every PIO exit",
                              VMD_PORT_BENCH_PIO) +
                  Coverage(floor->cycles.size(), iterations, asked),
              floor->cycles, floor->tsc_khz);

  if (absl::Status s = add(run.MeasureUserMsr(user_msr)); !s.ok()) return s;
  if (runner.has_engine_vpmu()) {
    const Measurement vpmu_msr{
        "msr_vpmu", VMD_PROBE_BENCH_RDMSR, kVpmuMsr,
        absl::StrFormat("RDMSR 0x%x (IA32_PMC0): the engine's vPMU claims it, the MSR filter exits to user "
                        "space, the register model answers",
                        kVpmuMsr)};
    if (absl::Status s = add(run.Measure(vpmu_msr)); !s.ok()) return s;
  }
  if (absl::Status s = add(run.Measure(kernel_msr)); !s.ok()) return s;
  if (absl::Status s = add(run.Measure(cpuid)); !s.ok()) return s;
  if (absl::Status s = add(run.MeasureMsi(msi)); !s.ok()) return s;
  // After kvm-unit-tests' IPI and timer latency tests (seed 001's series).
  if (runner.config().vcpus() >= 2) {
    const Measurement ipi{"ipi", VMD_PROBE_BENCH_IPI, 1,
                          absl::StrFormat("vCPU 0 writes the x2APIC ICR: a fixed IPI of vector 0x%x to vCPU 1, "
                                          "parked in HLT, until its handler runs (KVM delivers it in the kernel)",
                                          VMD_VECTOR_BENCH)};
    if (absl::Status s = add(run.Measure(ipi)); !s.ok()) return s;
  }
  const uint32_t ahead = static_cast<uint32_t>(tsc_khz * kTimerAheadUs / 1000);
  const Measurement timer{"lapic_timer", VMD_PROBE_BENCH_TIMER, ahead,
                          absl::StrFormat("LAPIC timer in TSC-deadline mode %u us ahead: from the deadline until "
                                          "the handler of vector 0x%x runs",
                                          kTimerAheadUs, VMD_VECTOR_BENCH)};
  if (absl::Status s = add(run.Measure(timer)); !s.ok()) return s;
  const double floor_p50 = report.raw_kvm_floor().p50_ns();
  report.set_pio_ratio_to_floor(floor_p50 > 0 ? report.results(0).p50_ns() / floor_p50 : 0);
  return report;
}

}  // namespace vmd::engine::bench

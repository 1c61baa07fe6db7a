// Guest micro-benchmarks (backend/bench) on real KVM, through the engine's
// VmRunner and EngineService: the report is complete and sane, the VM's MSR
// policy and its probe programs are as before, and what must be refused is.
// Timing targets (the PIO ratio to the floor) are reported, never asserted:
// they depend on the host.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "backend/bench/guest_bench.h"
#include "backend/bench/latency_stats.h"
#include "backend/engine/engine_service.h"
#include "backend/engine/vm_runner.h"
#include "gtest/gtest.h"
#include "tests/engine_test_config.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::engine {
namespace {

using std::chrono::milliseconds;

// Small enough for a host whose KVM emulates guest code.
constexpr uint32_t kIterations = 300;

std::string Render(const vmd::v1::GuestBenchReport& report) {
  std::string out = absl::StrFormat("tsc_khz %u\n", report.tsc_khz());
  auto row = [&out](const vmd::v1::LatencyFigures& f) {
    absl::StrAppendFormat(&out, "  %-14s samples %-7u p50 %10.0f ns  p99 %10.0f ns  (%s)\n",
                          f.name(), f.samples(), f.p50_ns(), f.p99_ns(), f.description());
  };
  for (const vmd::v1::LatencyFigures& f : report.results()) row(f);
  row(report.raw_kvm_floor());
  absl::StrAppendFormat(&out, "  pio ratio to floor %.2f\n", report.pio_ratio_to_floor());
  return out;
}

class KvmBenchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-bench-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    if (runner_ != nullptr) {
      (void)runner_->Stop(milliseconds(2000), /*force=*/true);
      EXPECT_NE(runner_->Status().state, RunState::kCrashed)
          << runner_->Status().crash_reason << "\n"
          << runner_->Status().register_dump;
      runner_.reset();
    }
    std::filesystem::remove_all(dir_);
  }

  EngineConfig Config(const std::string& backend, const std::string& workload) {
    return testing::TestEngineConfig(backend, workload, dir_);
  }

  void Boot(const std::string& backend, const std::string& workload) {
    auto runner = VmRunner::Create(Config(backend, workload));
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = *std::move(runner);
    ASSERT_TRUE(runner_->Start().ok());
  }

  static vmd::v1::RunGuestBenchRequest Request(uint32_t iterations) {
    vmd::v1::RunGuestBenchRequest request;
    request.set_name("bench");
    request.set_iterations(iterations);
    return request;
  }

  std::string dir_;
  std::unique_ptr<VmRunner> runner_;
};

TEST_F(KvmBenchTest, ReportHasEveryFigureAndTheyAreSane) {
  VMD_REQUIRE_KVM();
  Boot("kvm", "probe");
  // Through the engine's gRPC service method, as vmd calls it.
  EngineService service("bench", runner_.get());
  vmd::v1::RunGuestBenchRequest request = Request(kIterations);
  vmd::v1::GuestBenchReport report;
  grpc::Status status = service.RunGuestBench(nullptr, &request, &report);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::cout << Render(report);

  std::vector<std::string> names;
  for (const vmd::v1::LatencyFigures& f : report.results()) names.push_back(f.name());
  EXPECT_EQ(names, (std::vector<std::string>{"pio_exit", "msr_user_exit", "msr_kernel", "cpuid_exit",
                                             "msi_irqfd", "ipi", "lapic_timer"}));
  ASSERT_TRUE(report.has_raw_kvm_floor());
  EXPECT_EQ(report.raw_kvm_floor().name(), "raw_kvm_pio");
  std::vector<vmd::v1::LatencyFigures> all(report.results().begin(), report.results().end());
  all.push_back(report.raw_kvm_floor());
  for (const vmd::v1::LatencyFigures& f : all) {
    SCOPED_TRACE(f.name());
    EXPECT_FALSE(f.description().empty());
    EXPECT_EQ(f.samples(), kIterations);
    EXPECT_GT(f.p50_ns(), 0);
    EXPECT_LE(f.p50_ns(), f.p99_ns());
  }
  EXPECT_GT(report.tsc_khz(), 0u);
  EXPECT_GT(report.pio_ratio_to_floor(), 0);
  EXPECT_DOUBLE_EQ(report.pio_ratio_to_floor(),
                   report.results(0).p50_ns() / report.raw_kvm_floor().p50_ns());
}

vmd::v1::ProbeOp Rdmsr(uint32_t index) {
  vmd::v1::ProbeOp op;
  op.mutable_rdmsr()->set_index(index);
  return op;
}

TEST_F(KvmBenchTest, MsrPolicyAndProbesAreAsBeforeAfterwards) {
  VMD_REQUIRE_KVM();
  Boot("kvm", "probe");
  // A policy of the VM's own: the bench adds its MSR in front and restores it.
  vmd::v1::MsrPolicy policy;
  vmd::v1::MsrRule* rule = policy.add_rules();
  rule->set_first(0x3a);  // IA32_FEATURE_CONTROL
  rule->set_count(1);
  rule->set_access(vmd::v1::MSR_ACCESS_READ);
  rule->set_action(vmd::v1::MSR_ACTION_EMULATE);
  vmd::v1::MsrHandler* handler = policy.add_handlers();
  handler->set_index(0x3a);
  handler->set_read(vmd::v1::MsrHandler::READ_SOURCE_CONSTANT);
  handler->set_constant(0x5);
  handler->set_write(vmd::v1::MsrHandler::WRITE_ACTION_IGNORE);
  ASSERT_TRUE(runner_->msr_router().SetPolicy(policy).ok());

  absl::StatusOr<vmd::v1::GuestBenchReport> report = bench::RunGuestBench(*runner_, Request(50));
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(runner_->msr_router().policy().SerializeAsString(), policy.SerializeAsString());
  vmd::v1::RunProbeRequest probe;
  *probe.add_ops() = Rdmsr(VMD_BENCH_MSR);  // unknown to KVM again: #GP
  *probe.add_ops() = Rdmsr(0x3a);           // the VM's own handler still answers
  absl::StatusOr<vmd::v1::RunProbeResponse> seen = runner_->RunProbe(probe);
  ASSERT_TRUE(seen.ok()) << seen.status();
  EXPECT_EQ(seen->results(0).outcome(), vmd::v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(seen->results(0).vector(), 13u);
  EXPECT_EQ(seen->results(1).outcome(), vmd::v1::PROBE_OUTCOME_OK);
  ASSERT_EQ(seen->results(1).values_size(), 1);
  EXPECT_EQ(seen->results(1).values(0), 0x5u);

  // A second run on the same VM works too (the irqfd and its route are gone).
  report = bench::RunGuestBench(*runner_, Request(20));
  ASSERT_TRUE(report.ok()) << report.status();
}

TEST_F(KvmBenchTest, RefusesTooManyIterationsAndOtherWorkloads) {
  VMD_REQUIRE_KVM();
  Boot("kvm", "idle");
  absl::StatusOr<vmd::v1::GuestBenchReport> report =
      bench::RunGuestBench(*runner_, Request(bench::kMaxIterations + 1));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument) << report.status();
  report = bench::RunGuestBench(*runner_, Request(10));
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition) << report.status();
}

TEST_F(KvmBenchTest, GracefulStopEndsALongBench) {
  VMD_REQUIRE_KVM();
  Boot("kvm", "probe");
  absl::StatusOr<vmd::v1::GuestBenchReport> report;
  std::thread bench(
      [&] { report = bench::RunGuestBench(*runner_, Request(bench::kMaxIterations)); });
  // Until the first sample is in (guest memory starts zeroed).
  std::atomic_ref<uint32_t> first_sample(*runner_->memory().At<uint32_t>(VMD_BENCH_SAMPLES_GPA));
  for (int i = 0; i < 1000 && first_sample.load() == 0; ++i)
    std::this_thread::sleep_for(milliseconds(10));
  EXPECT_NE(first_sample.load(), 0u) << "the bench did not start";
  // The loops let interrupts in every few thousand round trips: the guest
  // powers off by itself long before the bench's budget is spent.
  absl::StatusOr<bool> graceful = runner_->Stop(milliseconds(5000), /*force=*/false);
  bench.join();
  ASSERT_TRUE(graceful.ok()) << graceful.status();
  EXPECT_TRUE(*graceful);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kAborted) << report.status();
}

// No KVM needed: the sim models no exits to time.
TEST_F(KvmBenchTest, SimIsRefused) {
  Boot("sim", "probe");
  EngineService service("bench", runner_.get());
  vmd::v1::RunGuestBenchRequest request = Request(10);
  vmd::v1::GuestBenchReport report;
  grpc::Status status = service.RunGuestBench(nullptr, &request, &report);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST(LatencyStatsTest, NearestRankPercentiles) {
  std::vector<uint32_t> cycles;
  for (uint32_t i = 100; i >= 1; --i) cycles.push_back(i);  // 1..100, unsorted
  EXPECT_EQ(bench::PercentileCycles(cycles, 50), 50u);
  EXPECT_EQ(bench::PercentileCycles(cycles, 99), 99u);
  EXPECT_EQ(bench::PercentileCycles(cycles, 100), 100u);
  EXPECT_EQ(bench::PercentileCycles(cycles, 0), 1u);
  EXPECT_EQ(bench::PercentileCycles({}, 50), 0u);
  const std::vector<uint32_t> one = {7};
  EXPECT_EQ(bench::PercentileCycles(one, 99), 7u);

  // 2 GHz: 2 cycles per ns.
  bench::LatencySummary s = bench::Summarize(cycles, 2000000);
  EXPECT_EQ(s.samples, 100u);
  EXPECT_DOUBLE_EQ(s.p50_ns, 25.0);
  EXPECT_DOUBLE_EQ(s.p99_ns, 49.5);
}

}  // namespace
}  // namespace vmd::engine

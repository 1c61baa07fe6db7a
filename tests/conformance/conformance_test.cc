// Runs the probe corpus on the sim and kvm backends, through the engine's
// own vCPU loop (VmRunner), and demands identical results wherever both model
// the behaviour. A difference is a sim bug unless the case lists it.
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/vm_runner.h"
#include "tests/conformance/probe_corpus.h"

namespace vmd::conformance {
namespace {

class Backend {
 public:
  explicit Backend(const std::string& kind) {
    char tmpl[] = "/tmp/vmd-conf-XXXXXX";
    dir_ = mkdtemp(tmpl);
    engine::EngineConfig config{.vm_id = kind, .name = kind, .vcpus = 2, .memory_mib = 64, .backend = kind,
                                .workload = "probe", .runtime_dir = dir_};
    auto runner = engine::VmRunner::Create(config);
    status_ = runner.status();
    if (runner.ok()) {
      runner_ = *std::move(runner);
      status_ = runner_->Start();
    }
  }
  ~Backend() {
    if (runner_) (void)runner_->Stop(std::chrono::milliseconds(0), /*force=*/true);
    runner_.reset();
    std::filesystem::remove_all(dir_);
  }
  const absl::Status& status() const { return status_; }
  absl::StatusOr<v1::RunProbeResponse> Run(const ProbeCase& c) {
    v1::RunProbeRequest req;
    for (const v1::ProbeOp& op : c.ops) *req.add_ops() = op;
    return runner_->RunProbe(req);
  }

 private:
  std::string dir_;
  absl::Status status_;
  std::unique_ptr<engine::VmRunner> runner_;
};

// Why two results differ under `compare`, or "" when they agree.
std::string Difference(const v1::ProbeResult& sim, const v1::ProbeResult& kvm, const Compare& compare) {
  if (sim.outcome() != kvm.outcome() || sim.vector() != kvm.vector()) {
    return absl::StrCat("outcome sim=", v1::ProbeOutcome_Name(sim.outcome()), "/", sim.vector(),
                        " kvm=", v1::ProbeOutcome_Name(kvm.outcome()), "/", kvm.vector());
  }
  if (compare.kind == Compare::Kind::kOutcome) return "";
  if (sim.values_size() != kvm.values_size()) return "value count";
  for (int i = 0; i < sim.values_size(); ++i) {
    uint64_t mask = compare.kind == Compare::Kind::kMasked ? compare.masks[i] : ~0ull;
    if ((sim.values(i) & mask) != (kvm.values(i) & mask)) {
      return absl::StrCat("value[", i, "] sim=0x", absl::Hex(sim.values(i) & mask), " kvm=0x",
                          absl::Hex(kvm.values(i) & mask), " (mask 0x", absl::Hex(mask), ")");
    }
  }
  return "";
}

TEST(ConformanceTest, CorpusIsWellFormed) {
  for (const ProbeCase& c : Corpus()) {
    EXPECT_EQ(c.ops.size(), c.compare.size()) << c.name;
    for (const Compare& cmp : c.compare) {
      if (cmp.kind == Compare::Kind::kMasked) {
        EXPECT_FALSE(cmp.masks.empty()) << c.name;
      }
    }
  }
}

// Each case runs on the sim alone too: every op must complete (no op left
// pending), so the sim side of the comparison is meaningful.
TEST(ConformanceTest, SimAnswersEveryCase) {
  Backend sim("sim");
  ASSERT_TRUE(sim.status().ok()) << sim.status();
  for (const ProbeCase& c : Corpus()) {
    auto r = sim.Run(c);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status();
    ASSERT_EQ(r->results_size(), static_cast<int>(c.ops.size())) << c.name;
    for (const v1::ProbeResult& res : r->results()) {
      EXPECT_NE(res.outcome(), v1::PROBE_OUTCOME_UNSPECIFIED) << c.name;
    }
  }
}

TEST(ConformanceTest, SimAndKvmAgree) {
  hv::BackendAvailability kvm_available = hv::ProbeBackends()[0];
  if (!kvm_available.usable) GTEST_SKIP() << "kvm is not usable here: " << kvm_available.reason;
  Backend sim("sim"), kvm("kvm");
  ASSERT_TRUE(sim.status().ok()) << sim.status();
  ASSERT_TRUE(kvm.status().ok()) << kvm.status();
  std::cout << "[kvm] ran on real KVM" << std::endl;
  int compared = 0, listed = 0;
  for (const ProbeCase& c : Corpus()) {
    auto s = sim.Run(c);
    auto k = kvm.Run(c);
    ASSERT_TRUE(s.ok()) << c.name << " on sim: " << s.status();
    ASSERT_TRUE(k.ok()) << c.name << " on kvm: " << k.status();
    std::string diff;
    for (size_t i = 0; i < c.ops.size() && diff.empty(); ++i) {
      diff = Difference(s->results(static_cast<int>(i)), k->results(static_cast<int>(i)), c.compare[i]);
      if (!diff.empty()) diff = absl::StrCat("op ", i, ": ", diff);
    }
    if (!c.known_difference.empty()) {
      ++listed;
      std::cout << "[conformance] " << c.name << ": " << (diff.empty() ? "agrees here" : diff)
                << " -- listed: " << c.known_difference << "\n";
      continue;
    }
    ++compared;
    EXPECT_EQ(diff, "") << c.name << ": sim and kvm differ";
  }
  std::cout << "[conformance] " << compared << " cases identical on sim and kvm, " << listed
            << " listed differences\n";
}

// Properties each backend must show on its own (values that differ between
// them by nature, such as the TSC).
TEST(ConformanceTest, TscIsMonotonicOnEachBackend) {
  for (const std::string kind : {"sim", "kvm"}) {
    if (kind == "kvm" && !hv::ProbeBackends()[0].usable) continue;
    Backend b(kind);
    ASSERT_TRUE(b.status().ok()) << kind << ": " << b.status();
    ProbeCase c;
    v1::ProbeOp tsc;
    tsc.mutable_rdtsc();
    v1::ProbeOp spin;
    spin.mutable_spin()->set_iterations(10000);
    c.ops = {tsc, spin, tsc};
    auto r = b.Run(c);
    ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
    EXPECT_GT(r->results(2).values(0), r->results(0).values(0)) << kind;
    EXPECT_GT(r->results(1).values(0), 0u) << kind;
  }
}

}  // namespace
}  // namespace vmd::conformance

// Runs the probe corpus on the sim and kvm backends, through the engine's
// own vCPU loop (VmRunner), and demands identical results wherever both model
// the behaviour. A difference is a sim bug unless the case lists it.
#include <filesystem>
#include <iostream>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "tests/conformance/backend_vm.h"
#include "tests/conformance/probe_corpus.h"

namespace vmd::conformance {
namespace {

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
  BackendVm sim("sim");
  ASSERT_TRUE(sim.status().ok()) << sim.status();
  for (const ProbeCase& c : Corpus()) {
    auto r = sim.Run(c.ops);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.status();
    ASSERT_EQ(r->results_size(), static_cast<int>(c.ops.size())) << c.name;
    for (const v1::ProbeResult& res : r->results()) {
      EXPECT_NE(res.outcome(), v1::PROBE_OUTCOME_UNSPECIFIED) << c.name;
    }
  }
}

TEST(ConformanceTest, SimAndKvmAgree) {
  std::string why;
  if (!KvmUsable(&why)) GTEST_SKIP() << "kvm is not usable here: " << why;
  BackendVm sim("sim"), kvm("kvm");
  ASSERT_TRUE(sim.status().ok()) << sim.status();
  ASSERT_TRUE(kvm.status().ok()) << kvm.status();
  std::cout << "[kvm] ran on real KVM" << std::endl;
  int compared = 0, listed = 0;
  for (const ProbeCase& c : Corpus()) {
    auto s = sim.Run(c.ops);
    auto k = kvm.Run(c.ops);
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
    std::string why;
    if (kind == "kvm" && !KvmUsable(&why)) continue;
    BackendVm b(kind);
    ASSERT_TRUE(b.status().ok()) << kind << ": " << b.status();
    v1::ProbeOp tsc;
    tsc.mutable_rdtsc();
    v1::ProbeOp spin;
    spin.mutable_spin()->set_iterations(10000);
    auto r = b.Run({tsc, spin, tsc});
    ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
    EXPECT_GT(r->results(2).values(0), r->results(0).values(0)) << kind;
    EXPECT_GT(r->results(1).values(0), 0u) << kind;
  }
}

}  // namespace
}  // namespace vmd::conformance

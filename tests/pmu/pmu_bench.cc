// PMU costs, measured in one run: a whole NegotiatePmu (the dry run
// CreateVm and StartVm make) against ValidatePmuSpec alone, on a profile
// where KVM gives everything and on this host's shape (both layers tried);
// and a guest-visible vPMU MSR access in the register model (the engine's
// work per trapped RDMSR of PMC0, WRMSR of GLOBAL_CTRL) against a plain
// map lookup, the floor of any table-driven MSR emulation. Also the
// per-cause CPUID update of seed 001 (a CR4 write updates OSXSAVE/OSPKE
// only) against the whole recompute it replaced.
//
//   pmu_bench [--benchmark_min_time=0.01]
#include <cstdint>
#include <map>

#include "backend/cpu/cpuid_runtime.h"
#include "backend/cpu/host_profiles.h"
#include "backend/pmu/host_pmu.h"
#include "backend/pmu/pmu_negotiation.h"
#include "backend/pmu/pmu_spec_validation.h"
#include "backend/pmu/virtual_pmu.h"
#include "benchmark/benchmark.h"

namespace vmd::pmu {
namespace {

v1::PmuSpec Spec() {
  v1::PmuSpec s;
  s.set_mode(v1::PMU_MODE_CUSTOM);
  s.set_policy(v1::PMU_POLICY_BEST_EFFORT);
  s.mutable_custom()->set_version(5);
  s.mutable_custom()->set_gp_counters(8);
  s.mutable_custom()->set_fixed_counters(3);
  s.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  return s;
}

void BM_ValidateSpec(benchmark::State& state) {
  const v1::PmuSpec spec = Spec();
  for (auto _ : state) benchmark::DoNotOptimize(ValidatePmuSpec(spec, "spec.pmu"));
}
BENCHMARK(BM_ValidateSpec);

void BM_NegotiateOneLayer(benchmark::State& state) {
  // v2 with LBR on Ice Lake: KVM gives everything, the engine is not tried.
  v1::PmuSpec spec = Spec();
  spec.mutable_custom()->set_version(2);
  const v1::HostPmu host = HostPmuOfProfile(*cpu::FindHostProfile("intel-icelake-server"));
  for (auto _ : state) benchmark::DoNotOptimize(NegotiatePmu(spec, host, {.host = "sim"}));
}
BENCHMARK(BM_NegotiateOneLayer);

void BM_NegotiateBothLayers(benchmark::State& state) {
  // v5 with LBR on upstream KVM: neither layer gives everything, both are built.
  const v1::PmuSpec spec = Spec();
  const v1::HostPmu host = HostPmuOfProfile(*cpu::FindHostProfile("intel-icelake-server"));
  for (auto _ : state) benchmark::DoNotOptimize(NegotiatePmu(spec, host, {.host = "sim"}));
}
BENCHMARK(BM_NegotiateBothLayers);

class FakeClock final : public PmuClock {
 public:
  uint64_t CoreCycles(uint32_t) override { return ++now_; }
  uint64_t RefCycles(uint32_t) override { return now_; }

 private:
  uint64_t now_ = 0;
};

void BM_VpmuReadCountingPmc(benchmark::State& state) {
  FakeClock clock;
  VirtualPmu pmu({.version = 5, .gp_counters = 8, .fixed_counter_bitmap = 0b110}, 1, &clock);
  pmu.Write(0, 0x186, (1ull << 22) | (1ull << 16) | 0x3c);
  pmu.Write(0, 0x38f, 1);
  for (auto _ : state) benchmark::DoNotOptimize(pmu.Read(0, 0xc1));
}
BENCHMARK(BM_VpmuReadCountingPmc);

void BM_VpmuWriteGlobalCtrl(benchmark::State& state) {
  FakeClock clock;
  VirtualPmu pmu({.version = 5, .gp_counters = 8, .fixed_counter_bitmap = 0b110}, 1, &clock);
  uint64_t v = 0;
  for (auto _ : state) benchmark::DoNotOptimize(pmu.Write(0, 0x38f, (v++) & 0xff));
}
BENCHMARK(BM_VpmuWriteGlobalCtrl);

void BM_MapLookupFloor(benchmark::State& state) {
  std::map<uint32_t, uint64_t> msrs;
  for (uint32_t i = 0; i < 64; ++i) msrs[0xc1 + i] = i;
  for (auto _ : state) benchmark::DoNotOptimize(msrs.find(0xc1));
}
BENCHMARK(BM_MapLookupFloor);

// A vCPU table like the sim's Intel profile: leaves 1, 7 and 0xD with its
// subleaves among 30 others.
cpu::CpuidTable CpuidBenchTable() {
  cpu::CpuidTable t;
  for (uint32_t leaf = 0; leaf < 24; ++leaf) t.push_back(cpu::Leaf(leaf, leaf, 0, 0, 0));
  t.push_back(cpu::Subleaf(0xd, 0, 0xe7, 0, 0, 0));
  t.push_back(cpu::Subleaf(0xd, 1, 0x2, 0, 0, 0));
  for (uint32_t c : {2u, 5u, 6u, 7u, 9u}) t.push_back(cpu::Subleaf(0xd, c, 64 * c, 512 + 64 * c, 0, 0));
  return t;
}

void BM_CpuidOnCr4(benchmark::State& state) {
  cpu::CpuidRuntime rt(CpuidBenchTable(), {});
  uint64_t cr4 = 0;
  for (auto _ : state) {
    rt.OnCr4(cr4 ^= 1ull << 18);
    benchmark::DoNotOptimize(rt.table().data());
  }
}
BENCHMARK(BM_CpuidOnCr4);

void BM_CpuidRecompute(benchmark::State& state) {
  cpu::CpuidRuntime rt(CpuidBenchTable(), {});
  cpu::CpuidCauses causes{.xcr0 = 0xe7};
  for (auto _ : state) {
    causes.cr4 ^= 1ull << 18;
    rt.Recompute(causes);
    benchmark::DoNotOptimize(rt.table().data());
  }
}
BENCHMARK(BM_CpuidRecompute);

}  // namespace
}  // namespace vmd::pmu

BENCHMARK_MAIN();

// The engine's per-exit MSR lookup: CompiledMsrPolicy::Decide() against a
// linear scan of the rules (first match, then the handler), measured in the
// same run on the same queries. The policy has 200 rules that compile into
// 16 KVM ranges (the most KVM takes). Also KvmAllows() (KVM's own linear walk of the 16
// ranges, as the sim evaluates it) and MsrAccessStats::Record().
//
//   msr_lookup_bench [--benchmark_min_time=0.01]
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "backend/msr/msr_filter.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_policy_model.h"
#include "backend/msr/msr_stats.h"
#include "benchmark/benchmark.h"

namespace vmd::msr {
namespace {

constexpr int kClusters = 8;
constexpr int kRules = 200;

// 8 clusters 16M MSRs apart, 25 rules per cluster within 4096 MSRs, mixed
// directions and actions: reads and writes disagree inside every cluster, so
// each takes a READ and a WRITE range: 16 KVM ranges. A handler on the first
// MSR of every EMULATE rule.
v1::MsrPolicy BenchPolicy() {
  std::mt19937 rng(42);
  v1::MsrPolicy policy;
  for (int i = 0; i < kRules; ++i) {
    const uint32_t cluster = static_cast<uint32_t>(i % kClusters);
    v1::MsrRule* rule = policy.add_rules();
    rule->set_first(0x1000 + cluster * 0x01000000 + static_cast<uint32_t>(rng() % 4096));
    rule->set_count(1 + rng() % 32);
    rule->set_access(static_cast<v1::MsrAccess>(1 + rng() % 3));
    rule->set_action(static_cast<v1::MsrAction>(1 + rng() % 3));
  }
  for (const v1::MsrRule& rule : policy.rules()) {
    if (rule.action() != v1::MSR_ACTION_EMULATE) continue;
    bool dup = false;
    for (const v1::MsrHandler& h : policy.handlers()) dup |= h.index() == rule.first();
    const bool trapped = PolicyAction(policy, rule.first(), false) == v1::MSR_ACTION_EMULATE ||
                         PolicyAction(policy, rule.first(), true) == v1::MSR_ACTION_EMULATE;
    if (dup || !trapped) continue;
    v1::MsrHandler* h = policy.add_handlers();
    h->set_index(rule.first());
    h->set_read(v1::MsrHandler::READ_SOURCE_CONSTANT);
    h->set_write(v1::MsrHandler::WRITE_ACTION_IGNORE);
  }
  return policy;
}

// The queries: trapped accesses land near rule MSRs, so 3/4 inside clusters.
std::vector<std::pair<uint32_t, bool>> Queries() {
  std::mt19937 rng(7);
  std::vector<std::pair<uint32_t, bool>> q(4096);
  for (auto& [index, write] : q) {
    index = rng() % 4 == 0 ? static_cast<uint32_t>(rng())
                           : 0x1000 + static_cast<uint32_t>(rng() % kClusters) * 0x01000000 + rng() % 4200;
    write = rng() % 2;
  }
  return q;
}

struct Fixture {
  v1::MsrPolicy policy = BenchPolicy();
  CompiledMsrPolicy compiled;
  std::vector<std::pair<uint32_t, bool>> queries = Queries();
  // The baseline's data: plain structs, no proto accessors.
  struct Rule {
    uint32_t first;
    uint64_t end;
    bool read;
    bool write;
    v1::MsrAction action;
  };
  std::vector<Rule> rules;
  absl::flat_hash_map<uint32_t, uint32_t> handler_slots;

  Fixture() {
    absl::StatusOr<CompiledMsrPolicy> c = CompileMsrPolicy(policy, MsrTopology{2, 4});
    if (!c.ok()) {
      std::fprintf(stderr, "bench policy does not compile: %s\n", c.status().ToString().c_str());
      std::abort();
    }
    compiled = *std::move(c);
    for (const v1::MsrRule& r : policy.rules()) {
      rules.push_back({r.first(), uint64_t{r.first()} + r.count(), r.access() != v1::MSR_ACCESS_WRITE,
                       r.access() != v1::MSR_ACCESS_READ, r.action()});
    }
    for (size_t i = 0; i < compiled.handlers.size(); ++i) {
      handler_slots[compiled.handlers[i].index()] = static_cast<uint32_t>(i);
    }
    std::printf(
        "policy: %d rules, %zu handlers -> %zu KVM ranges (%u bitmap bytes); decision table %zu/%zu intervals\n",
        policy.rules_size(), compiled.handlers.size(), compiled.filter.ranges.size(), compiled.Summary().bitmap_bytes(),
        compiled.decisions.size(false), compiled.decisions.size(true));
  }

  // What an engine without the table would do per exit.
  MsrDecision LinearScan(uint32_t index, bool write) const {
    v1::MsrAction action = v1::MSR_ACTION_ALLOW;
    for (const Rule& r : rules) {
      if (index >= r.first && index < r.end && (write ? r.write : r.read)) {
        action = r.action;
        break;
      }
    }
    if (action == v1::MSR_ACTION_DENY) return MsrDecision::Deny();
    if (action == v1::MSR_ACTION_EMULATE) {
      auto it = handler_slots.find(index);
      if (it != handler_slots.end()) return MsrDecision::Emulate(it->second);
    }
    return MsrDecision::Unhandled();
  }
};

const Fixture& GetFixture() {
  static const Fixture* fixture = new Fixture();
  return *fixture;
}

void BM_Decide(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    const auto& [index, write] = f.queries[i++ & 4095];
    benchmark::DoNotOptimize(f.compiled.Decide(index, write));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Decide);

void BM_LinearScanBaseline(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    const auto& [index, write] = f.queries[i++ & 4095];
    benchmark::DoNotOptimize(f.LinearScan(index, write));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LinearScanBaseline);

void BM_KvmAllows16Ranges(benchmark::State& state) {
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    const auto& [index, write] = f.queries[i++ & 4095];
    benchmark::DoNotOptimize(KvmAllows(f.compiled.filter, index, write));
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KvmAllows16Ranges);

void BM_StatsRecord(benchmark::State& state) {
  static MsrAccessStats* stats = new MsrAccessStats();
  const Fixture& f = GetFixture();
  size_t i = 0;
  for (auto _ : state) {
    const auto& [index, write] = f.queries[i++ & 4095];
    stats->Record(index, write, v1::MSR_OUTCOME_DENIED);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StatsRecord)->Threads(1)->Threads(2);

// The check the brief asks for: Decide() and the scan agree on every query.
void BM_CheckAgreement(benchmark::State& state) {
  const Fixture& f = GetFixture();
  int64_t mismatches = 0;
  for (auto _ : state) {
    for (const auto& [index, write] : f.queries)
      mismatches += !(f.compiled.Decide(index, write) == f.LinearScan(index, write));
  }
  state.counters["mismatches"] = static_cast<double>(mismatches);
  if (mismatches != 0) state.SkipWithError("Decide() disagrees with the linear scan");
}
BENCHMARK(BM_CheckAgreement)->Iterations(1);

// The worst case of the shadow analysis (msr_policy_compiler_test's
// LargestPoliciesCompile): 2048 small rules, then 2048 wide ones over them.
void BM_CompileLargestPolicy(benchmark::State& state) {
  v1::MsrPolicy policy;
  auto add = [&](uint32_t first, uint32_t count, v1::MsrAccess access, v1::MsrAction action) {
    v1::MsrRule* r = policy.add_rules();
    r->set_first(first);
    r->set_count(count);
    r->set_access(access);
    r->set_action(action);
  };
  for (uint32_t i = 0; i < 2048; ++i) {
    add(0x10000 + 3 * i, 2, i % 3 ? v1::MSR_ACCESS_READ_WRITE : v1::MSR_ACCESS_READ, v1::MSR_ACTION_DENY);
  }
  for (uint32_t i = 0; i < 2048; ++i) {
    add(0x10000, 0x2000, v1::MSR_ACCESS_READ_WRITE, i % 2 ? v1::MSR_ACTION_ALLOW : v1::MSR_ACTION_EMULATE);
  }
  for (auto _ : state) benchmark::DoNotOptimize(CompileMsrPolicy(policy, {}));
}
BENCHMARK(BM_CompileLargestPolicy)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vmd::msr

BENCHMARK_MAIN();

// Property test: for seeded random policies, at every MSR of a sample that
// includes each rule's boundaries, the compiled KVM filter (evaluated with
// KvmAllows, the kernel's lookup) allows exactly what the policy's
// first-match semantics ALLOWs, and the decision table agrees with the
// policy's action, for reads and writes.
#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "absl/strings/match.h"
#include "backend/msr/msr_index.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_policy_model.h"
#include "gtest/gtest.h"
#include "tests/msr/msr_test_util.h"

namespace vmd::msr {
namespace {

using ::vmd::msr::msr_test::AddHandler;
using ::vmd::msr::msr_test::AddRule;
using ::vmd::msr::msr_test::kAllow;
using ::vmd::msr::msr_test::kDeny;

// Areas where real MSRs live; rules cluster there, plus a few anywhere.
constexpr uint32_t kAreas[] = {0x0, 0x900, 0x1200, 0x40000000, 0x4b564d00, 0xc0000000, 0xc0010000, 0xfffff000};

uint32_t Pick(std::mt19937& rng, uint32_t lo, uint32_t hi) {
  return std::uniform_int_distribution<uint32_t>(lo, hi)(rng);
}

v1::MsrPolicy RandomPolicy(std::mt19937& rng) {
  v1::MsrPolicy policy;
  policy.set_default_action(Pick(rng, 0, 2) == 0 ? v1::MSR_ACTION_UNSPECIFIED : (Pick(rng, 0, 1) ? kAllow : kDeny));
  if (Pick(rng, 0, 3) == 0) policy.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  const int nrules = static_cast<int>(Pick(rng, 0, 60));
  for (int i = 0; i < nrules; ++i) {
    uint32_t first;
    uint32_t count;
    switch (Pick(rng, 0, 9)) {
      case 0:  // anywhere, short
        first = Pick(rng, 0, 0xffffff00);
        count = Pick(rng, 1, 64);
        break;
      case 1:  // long, inside an area
        first = kAreas[Pick(rng, 0, 7)] + Pick(rng, 0, 0x400);
        count = Pick(rng, 0x100, 0x3000);
        break;
      default:  // short, inside an area
        first = kAreas[Pick(rng, 0, 7)] + Pick(rng, 0, 0x600);
        count = Pick(rng, 1, 24);
        break;
    }
    if (uint64_t{first} + count > (uint64_t{1} << 32)) count = static_cast<uint32_t>((uint64_t{1} << 32) - first);
    const v1::MsrAccess access = static_cast<v1::MsrAccess>(Pick(rng, 1, 3));
    v1::MsrAction action = static_cast<v1::MsrAction>(Pick(rng, 1, 3));
    // KVM cannot filter x2APIC MSRs: such rules may only ALLOW.
    if (first <= kX2apicLast && uint64_t{first} + count > kX2apicFirst) action = kAllow;
    AddRule(policy, first, count, access, action);
  }
  return policy;
}

std::vector<uint32_t> SampleMsrs(const v1::MsrPolicy& policy, std::mt19937& rng) {
  std::vector<uint32_t> sample = {0, 1, 0x7ff, 0x800, 0x8ff, 0x900, 0xfffffffe, 0xffffffff};
  for (const v1::MsrRule& r : policy.rules()) {
    const uint64_t end = uint64_t{r.first()} + r.count();
    for (uint64_t m : {uint64_t{r.first()} - 1, uint64_t{r.first()}, uint64_t{r.first()} + 1, end - 2, end - 1, end}) {
      if (m <= 0xffffffff) sample.push_back(static_cast<uint32_t>(m));
    }
    sample.push_back(static_cast<uint32_t>(r.first() + Pick(rng, 0, r.count() - 1)));
  }
  for (uint32_t area : kAreas) {
    for (int i = 0; i < 64; ++i) sample.push_back(area + Pick(rng, 0, std::min<uint32_t>(0x4000, ~area)));
  }
  for (int i = 0; i < 256; ++i) sample.push_back(Pick(rng, 0, 0xffffffff));
  return sample;
}

MsrDecision ExpectedDecision(const v1::MsrPolicy& policy, const CompiledMsrPolicy& compiled, uint32_t index,
                             bool write) {
  const v1::MsrAction action = PolicyAction(policy, index, write);
  if (action == v1::MSR_ACTION_DENY) return MsrDecision::Deny();
  const bool handled = action == v1::MSR_ACTION_EMULATE || policy.unknown_msrs() == v1::UNKNOWN_MSR_ACTION_EMULATE;
  if (handled && !IsX2apicMsr(index)) {
    for (size_t slot = 0; slot < compiled.handlers.size(); ++slot) {
      if (compiled.handlers[slot].index() == index) return MsrDecision::Emulate(static_cast<uint32_t>(slot));
    }
  }
  return MsrDecision::Unhandled();
}

// Handlers on some MSRs the policy traps (so that the policy stays valid).
void AddReachableHandlers(v1::MsrPolicy& policy, std::mt19937& rng) {
  const bool unknown = policy.unknown_msrs() == v1::UNKNOWN_MSR_ACTION_EMULATE;
  std::vector<uint32_t> used;
  for (const v1::MsrRule& r : policy.rules()) {
    if (Pick(rng, 0, 2) != 0) continue;
    const uint32_t index = r.first() + Pick(rng, 0, std::min<uint32_t>(r.count() - 1, 8));
    if (IsX2apicMsr(index) || std::find(used.begin(), used.end(), index) != used.end()) continue;
    const v1::MsrAction rd = PolicyAction(policy, index, false);
    const v1::MsrAction wr = PolicyAction(policy, index, true);
    const bool trapped = rd == v1::MSR_ACTION_EMULATE || wr == v1::MSR_ACTION_EMULATE;
    const bool unknown_ok = unknown && !(rd == v1::MSR_ACTION_DENY && wr == v1::MSR_ACTION_DENY);
    if (!trapped && !unknown_ok) continue;
    used.push_back(index);
    AddHandler(policy, index);
  }
}

TEST(MsrPolicyPropertyTest, CompiledFilterAndDecisionsMatchFirstMatchSemantics) {
  int compiled_policies = 0;
  for (uint32_t seed = 1; seed <= 300; ++seed) {
    std::mt19937 rng(seed);
    v1::MsrPolicy policy = RandomPolicy(rng);
    AddReachableHandlers(policy, rng);
    absl::StatusOr<CompiledMsrPolicy> compiled = CompileMsrPolicy(policy, MsrTopology{2, 4});
    if (!compiled.ok()) {
      // Only a policy beyond KVM's 16 ranges (or needing MSR 0xffffffff in
      // a range) may be refused.
      EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument) << "seed " << seed;
      EXPECT_TRUE(absl::StrContains(compiled.status().message(), "KVM MSR filter ranges") ||
                  absl::StrContains(compiled.status().message(), "0xffffffff"))
          << "seed " << seed << ": " << compiled.status();
      continue;
    }
    ++compiled_policies;
    ASSERT_TRUE(ValidateMsrFilter(compiled->filter).ok()) << "seed " << seed;
    for (uint32_t m : SampleMsrs(policy, rng)) {
      for (bool write : {false, true}) {
        const bool want = PolicyAction(policy, m, write) == v1::MSR_ACTION_ALLOW;
        ASSERT_EQ(KvmAllows(compiled->filter, m, write), want)
            << "seed " << seed << " MSR 0x" << std::hex << m << (write ? " write" : " read");
        ASSERT_EQ(compiled->Decide(m, write), ExpectedDecision(policy, *compiled, m, write))
            << "seed " << seed << " MSR 0x" << std::hex << m << (write ? " write" : " read");
      }
    }
  }
  // The generator stays mostly within what KVM can represent.
  EXPECT_GT(compiled_policies, 240);
}

}  // namespace
}  // namespace vmd::msr

// CompileMsrPolicy: the KVM filter it produces (compaction into ≤ 16
// ranges), exit reasons, shadow warnings and the per-exit decisions.
#include "backend/msr/msr_policy_compiler.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "backend/msr/msr_policy_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/msr/msr_test_util.h"

namespace vmd::msr {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::vmd::msr::msr_test::AddHandler;
using ::vmd::msr::msr_test::AddRule;
using ::vmd::msr::msr_test::kAllow;
using ::vmd::msr::msr_test::kDeny;
using ::vmd::msr::msr_test::kEmulate;
using ::vmd::msr::msr_test::kRead;
using ::vmd::msr::msr_test::kReadWrite;
using ::vmd::msr::msr_test::kWrite;

CompiledMsrPolicy Compile(const v1::MsrPolicy& policy) {
  absl::StatusOr<CompiledMsrPolicy> compiled = CompileMsrPolicy(policy, MsrTopology{2, 4});
  EXPECT_TRUE(compiled.ok()) << compiled.status();
  return compiled.ok() ? *std::move(compiled) : CompiledMsrPolicy();
}

// The filter agrees with the policy's meaning on every MSR in [lo, hi].
void ExpectFilterMatches(const v1::MsrPolicy& policy, const MsrFilter& filter, uint64_t lo, uint64_t hi) {
  for (uint64_t m = lo; m <= hi; ++m) {
    for (bool write : {false, true}) {
      const bool want = PolicyAction(policy, static_cast<uint32_t>(m), write) == v1::MSR_ACTION_ALLOW;
      ASSERT_EQ(KvmAllows(filter, static_cast<uint32_t>(m), write), want)
          << "MSR 0x" << std::hex << m << (write ? " write" : " read");
    }
  }
}

TEST(MsrPolicyCompilerTest, AllowAllInstallsNoFilter) {
  CompiledMsrPolicy c = Compile(v1::MsrPolicy());
  EXPECT_FALSE(c.filter.default_deny);
  EXPECT_THAT(c.filter.ranges, IsEmpty());
  EXPECT_EQ(c.filter.exit_reasons, 0u);
  EXPECT_EQ(c.Decide(0x10, false), MsrDecision::Unhandled());
}

TEST(MsrPolicyCompilerTest, DenyAllNeedsOneRangeForKvm) {
  v1::MsrPolicy policy;
  policy.set_default_action(kDeny);
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_TRUE(c.filter.default_deny);
  ASSERT_EQ(c.filter.ranges.size(), 1u);  // KVM refuses DEFAULT_DENY without one
  EXPECT_TRUE(ValidateMsrFilter(c.filter).ok());
  EXPECT_EQ(c.filter.exit_reasons, kMsrExitReasonFilter);
  EXPECT_FALSE(KvmAllows(c.filter, 0, false));
  EXPECT_FALSE(KvmAllows(c.filter, 0xc0000080, true));
  EXPECT_TRUE(KvmAllows(c.filter, 0x830, true));  // x2APIC
  EXPECT_EQ(c.Decide(0xc0000080, true), MsrDecision::Deny());
}

TEST(MsrPolicyCompilerTest, AllowIsBitOneDenyAndEmulateAreBitZero) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, kReadWrite, kAllow);
  AddRule(policy, 0x11, 1, kReadWrite, kDeny);
  AddRule(policy, 0x35, 1, kReadWrite, kEmulate);
  policy.set_default_action(kDeny);
  AddHandler(policy, 0x35, v1::MsrHandler::READ_SOURCE_TOPOLOGY);
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_TRUE(c.filter.default_deny);
  EXPECT_TRUE(KvmAllows(c.filter, 0x10, false));
  EXPECT_FALSE(KvmAllows(c.filter, 0x11, false));
  EXPECT_FALSE(KvmAllows(c.filter, 0x35, true));
  EXPECT_EQ(c.filter.exit_reasons, kMsrExitReasonFilter);
  EXPECT_EQ(c.Decide(0x11, false), MsrDecision::Deny());
  EXPECT_EQ(c.Decide(0x35, false), MsrDecision::Emulate(0));
  EXPECT_EQ(c.Decide(0x35, true), MsrDecision::Emulate(0));
  EXPECT_EQ(c.Decide(0x36, true), MsrDecision::Deny());  // default DENY
  ExpectFilterMatches(policy, c.filter, 0, 0x1000);
}

TEST(MsrPolicyCompilerTest, UnknownEmulateAddsExitReasonAndHandlesAllowedMsrs) {
  v1::MsrPolicy policy;
  policy.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  AddHandler(policy, 0x35, v1::MsrHandler::READ_SOURCE_TOPOLOGY);
  AddHandler(policy, 0x4b564e00);
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_THAT(c.filter.ranges, IsEmpty());  // nothing filtered
  EXPECT_EQ(c.filter.exit_reasons, kMsrExitReasonUnknown);
  // KVM exits for an allowed MSR only when it does not know it.
  EXPECT_EQ(c.Decide(0x35, false), MsrDecision::Emulate(0));
  EXPECT_EQ(c.Decide(0x4b564e00, true), MsrDecision::Emulate(1));
  EXPECT_EQ(c.Decide(0x36, false), MsrDecision::Unhandled());
}

TEST(MsrPolicyCompilerTest, EmulateWithoutHandlerIsUnhandled) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x4b564e00, 16, kReadWrite, kEmulate);
  AddHandler(policy, 0x4b564e04);
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_EQ(c.Decide(0x4b564e03, false), MsrDecision::Unhandled());
  EXPECT_EQ(c.Decide(0x4b564e04, false), MsrDecision::Emulate(0));
  EXPECT_EQ(c.Decide(0x4b564e05, false), MsrDecision::Unhandled());
  EXPECT_EQ(c.Decide(0x4b564e10, false), MsrDecision::Unhandled());  // ALLOWed: not trapped
}

TEST(MsrPolicyCompilerTest, HandlersAreSortedIntoSlots) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x30, 16, kReadWrite, kEmulate);
  AddHandler(policy, 0x3f, v1::MsrHandler::READ_SOURCE_CONSTANT, v1::MsrHandler::WRITE_ACTION_IGNORE, 7);
  AddHandler(policy, 0x31);
  CompiledMsrPolicy c = Compile(policy);
  ASSERT_EQ(c.handlers.size(), 2u);
  EXPECT_EQ(c.handlers[0].index(), 0x31u);
  EXPECT_EQ(c.handlers[1].index(), 0x3fu);
  EXPECT_EQ(c.Decide(0x3f, true), MsrDecision::Emulate(1));
}

TEST(MsrPolicyCompilerTest, ShadowWarningsNameTheRuleAndItsShadows) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 16, kReadWrite, kAllow);  // 0x10-0x1f
  AddRule(policy, 0x20, 16, kRead, kDeny);        // 0x20-0x2f reads
  AddRule(policy, 0x18, 16, kRead, kDeny);        // 0x18-0x27 reads: shadowed by 0 and 1
  AddRule(policy, 0x18, 16, kReadWrite, kDeny);   // writes 0x20-0x27 decide: not shadowed
  AddRule(policy, 0x12, 2, kWrite, kEmulate);     // shadowed by 0
  AddRule(policy, 0x40, 1, kRead, kDeny);
  AddRule(policy, 0x40, 1, kRead, kAllow);  // shadowed by 5
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_THAT(c.warnings,
              ElementsAre("rules[2] (0x18-0x27 READ DENY) is shadowed entirely by rules[0], rules[1]; it never applies",
                          "rules[4] (0x12-0x13 WRITE EMULATE) is shadowed entirely by rules[0]; it never applies",
                          "rules[6] (0x40 READ ALLOW) is shadowed entirely by rules[5]; it never applies"));
  ExpectFilterMatches(policy, c.filter, 0, 0x100);
}

TEST(MsrPolicyCompilerTest, ReadWriteRulesShareOneRange) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, kReadWrite, kDeny);
  AddRule(policy, 0x1b, 1, kReadWrite, kEmulate);
  AddRule(policy, 0x200, 16, kReadWrite, kDeny);
  CompiledMsrPolicy c = Compile(policy);
  ASSERT_EQ(c.filter.ranges.size(), 1u);
  EXPECT_EQ(c.filter.ranges[0].flags, kMsrFilterReadWrite);
  EXPECT_EQ(c.filter.ranges[0].base, 0x10u);
  EXPECT_EQ(c.filter.ranges[0].nmsrs, 0x210u - 0x10u);
  EXPECT_EQ(c.filter.ranges[0].bitmap.size(), MsrFilterBitmapBytes(0x200));
  ExpectFilterMatches(policy, c.filter, 0, 0x1000);
  EXPECT_EQ(c.Summary().ranges(), 1u);
  EXPECT_EQ(c.Summary().bitmap_bytes(), MsrFilterBitmapBytes(0x200));
  EXPECT_FALSE(c.Summary().default_deny());
  EXPECT_EQ(c.Summary().exit_reasons(), kMsrExitReasonFilter);
}

TEST(MsrPolicyCompilerTest, DirectionsThatDisagreeGetSeparateRanges) {
  v1::MsrPolicy policy;
  AddRule(policy, 0xc0000100, 1, kRead, kDeny);       // FS_BASE reads
  AddRule(policy, 0xc0000080, 5, kReadWrite, kDeny);  // EFER..SFMASK
  AddRule(policy, 0xc0000101, 1, kWrite, kDeny);      // GS_BASE writes
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_LE(c.filter.ranges.size(), 3u);
  EXPECT_TRUE(ValidateMsrFilter(c.filter).ok());
  ExpectFilterMatches(policy, c.filter, 0xc0000000, 0xc0000200);
}

TEST(MsrPolicyCompilerTest, FortyScatteredRulesFitSixteenRanges) {
  // 40 rules over five areas far apart, mixed actions and directions.
  v1::MsrPolicy policy;
  const uint32_t areas[] = {0x0, 0x3000, 0x40000000, 0x4b564d00, 0xc0000000};
  for (int i = 0; i < 40; ++i) {
    const uint32_t first = areas[i % 5] + 0x13 * static_cast<uint32_t>(i) + (i % 3);
    const v1::MsrAccess access = i % 7 == 0 ? kRead : (i % 11 == 0 ? kWrite : kReadWrite);
    const v1::MsrAction action = i % 4 == 0 ? kAllow : (i % 4 == 1 ? kEmulate : kDeny);
    AddRule(policy, first, 1 + i % 5, access, action);
  }
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_LE(c.filter.ranges.size(), 16u);
  EXPECT_TRUE(ValidateMsrFilter(c.filter).ok());
  for (uint32_t area : areas) ExpectFilterMatches(policy, c.filter, area, uint64_t{area} + 0x400);
}

TEST(MsrPolicyCompilerTest, SeventeenFarApartRulesAreRefusedNamingTheRules) {
  v1::MsrPolicy policy;
  for (uint32_t i = 0; i < 17; ++i) AddRule(policy, 0x10000000 + i * 0x100000, 1, kReadWrite, kDeny);
  absl::StatusOr<CompiledMsrPolicy> c = CompileMsrPolicy(policy, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("needs 17 KVM MSR filter ranges"));
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("rules[16] did not fit"));
  // Sixteen fit.
  policy.mutable_rules()->RemoveLast();
  CompiledMsrPolicy ok = Compile(policy);
  EXPECT_EQ(ok.filter.ranges.size(), 16u);
}

TEST(MsrPolicyCompilerTest, LongRuleIsCutIntoMaximalRanges) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10000, 4 * kMsrFilterMaxRangeMsrs, kReadWrite, kDeny);
  CompiledMsrPolicy c = Compile(policy);
  ASSERT_EQ(c.filter.ranges.size(), 4u);
  for (const MsrFilterRange& r : c.filter.ranges) EXPECT_EQ(r.nmsrs, kMsrFilterMaxRangeMsrs);
  EXPECT_TRUE(ValidateMsrFilter(c.filter).ok());
  EXPECT_FALSE(KvmAllows(c.filter, 0x10000 + 4 * kMsrFilterMaxRangeMsrs - 1, true));
  EXPECT_TRUE(KvmAllows(c.filter, 0x10000 + 4 * kMsrFilterMaxRangeMsrs, true));
}

TEST(MsrPolicyCompilerTest, MostlyDenyingRulesUseDefaultDeny) {
  // default_action ALLOW, but the rules deny everything except TSC.
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, kReadWrite, kAllow);
  AddRule(policy, 0, 0x800, kReadWrite, kDeny);
  AddRule(policy, 0x900, 0xffffffffu - 0x900 + 1, kReadWrite, kDeny);
  CompiledMsrPolicy c = Compile(policy);
  EXPECT_TRUE(c.filter.default_deny);
  EXPECT_EQ(c.filter.ranges.size(), 1u);
  EXPECT_TRUE(KvmAllows(c.filter, 0x10, true));
  EXPECT_FALSE(KvmAllows(c.filter, 0x11, true));
  EXPECT_FALSE(KvmAllows(c.filter, 0xffffffff, false));
  EXPECT_TRUE(KvmAllows(c.filter, 0x8ff, false));
}

TEST(MsrPolicyCompilerTest, LastMsrCannotBeARangeException) {
  // KVM computes a range's end in 32 bits: no range can hold 0xffffffff.
  v1::MsrPolicy policy;
  AddRule(policy, 0xffffffff, 1, kRead, kDeny);
  absl::StatusOr<CompiledMsrPolicy> c = CompileMsrPolicy(policy, {});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("rules[0]: MSR 0xffffffff would need a KVM filter range"));
  // (DEFAULT_DENY would instead need ranges allowing everything else.)
  // The MSR before it is fine.
  policy.mutable_rules(0)->set_first(0xfffffffe);
  CompiledMsrPolicy ok = Compile(policy);
  EXPECT_FALSE(KvmAllows(ok.filter, 0xfffffffe, false));
  EXPECT_TRUE(KvmAllows(ok.filter, 0xfffffffe, true));
}

TEST(MsrPolicyCompilerTest, DecisionTableIsCompact) {
  v1::MsrPolicy policy;
  for (uint32_t i = 0; i < 100; ++i) AddRule(policy, 0x1000 + 4 * i, 2, kReadWrite, i % 2 ? kDeny : kEmulate);
  CompiledMsrPolicy c = Compile(policy);
  // At most one interval per rule boundary, plus the default around them.
  EXPECT_LE(c.decisions.size(false), 2u * 100 + 1);
  EXPECT_EQ(c.Decide(0x1000, false), MsrDecision::Unhandled());  // EMULATE, no handler
  EXPECT_EQ(c.Decide(0x1004, true), MsrDecision::Deny());
  EXPECT_EQ(c.Decide(0x1006, true), MsrDecision::Unhandled());  // ALLOW (default)
}

TEST(MsrPolicyCompilerTest, LargestPoliciesCompile) {
  // kMaxMsrRules rules: 2048 small ones in one area (many segments), then
  // 2048 wide ones over all of them, all but the first shadowed (the worst
  // case of the shadow analysis: each scans every segment). How long it
  // takes is msr_lookup_bench's BM_CompileLargestPolicy, not a check here.
  v1::MsrPolicy policy;
  for (uint32_t i = 0; i < 2048; ++i) AddRule(policy, 0x10000 + 3 * i, 2, i % 3 ? kReadWrite : kRead, kDeny);
  for (uint32_t i = 0; i < 2048; ++i) AddRule(policy, 0x10000, 0x2000, kReadWrite, i % 2 ? kAllow : kEmulate);
  absl::StatusOr<CompiledMsrPolicy> c = CompileMsrPolicy(policy, {});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->warnings.size(), 2047u);
  ExpectFilterMatches(policy, c->filter, 0xff00, 0x14000);
}

}  // namespace
}  // namespace vmd::msr

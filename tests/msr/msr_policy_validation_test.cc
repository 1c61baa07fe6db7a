// Every validation error names its field (and rule), with the code
// INVALID_ARGUMENT.
#include <string>

#include "absl/status/status.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_policy_validator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/msr/msr_test_util.h"

namespace vmd::msr {
namespace {

using ::testing::HasSubstr;
using ::vmd::msr::msr_test::AddHandler;
using ::vmd::msr::msr_test::AddRule;
using ::vmd::msr::msr_test::kAllow;
using ::vmd::msr::msr_test::kDeny;
using ::vmd::msr::msr_test::kEmulate;
using ::vmd::msr::msr_test::kRead;
using ::vmd::msr::msr_test::kReadWrite;
using ::vmd::msr::msr_test::kWrite;

// Compiles and expects INVALID_ARGUMENT whose message contains `text`.
void ExpectInvalid(const v1::MsrPolicy& policy, const std::string& text, MsrTopology topology = {2, 4}) {
  absl::StatusOr<CompiledMsrPolicy> compiled = CompileMsrPolicy(policy, topology);
  ASSERT_FALSE(compiled.ok()) << "expected an error containing: " << text;
  EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(compiled.status().message()), HasSubstr(text));
}

TEST(MsrPolicyValidationTest, EmptyPolicyIsValid) {
  EXPECT_TRUE(ValidateMsrPolicy(v1::MsrPolicy(), {}).ok());
  EXPECT_TRUE(CompileMsrPolicy(v1::MsrPolicy(), {}).ok());
}

TEST(MsrPolicyValidationTest, DefaultActionMustBeAllowOrDeny) {
  v1::MsrPolicy policy;
  policy.set_default_action(v1::MSR_ACTION_EMULATE);
  ExpectInvalid(policy, "default_action: must be ALLOW or DENY");
  policy.set_default_action(static_cast<v1::MsrAction>(9));
  ExpectInvalid(policy, "default_action:");
  policy.set_default_action(v1::MSR_ACTION_DENY);
  EXPECT_TRUE(CompileMsrPolicy(policy, {}).ok());
}

TEST(MsrPolicyValidationTest, UnknownMsrsMustBeDefined) {
  v1::MsrPolicy policy;
  policy.set_unknown_msrs(static_cast<v1::UnknownMsrAction>(5));
  ExpectInvalid(policy, "unknown_msrs: undefined value 5");
}

TEST(MsrPolicyValidationTest, RuleCountAtLeastOne) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, kReadWrite, kDeny);
  AddRule(policy, 0x20, 0, kReadWrite, kDeny);
  ExpectInvalid(policy, "rules[1].count: must be at least 1");
}

TEST(MsrPolicyValidationTest, RuleMustNotOverflowThirtyTwoBits) {
  v1::MsrPolicy policy;
  AddRule(policy, 0xffffff00, 0x100, kReadWrite, kAllow);  // ends exactly at 0xffffffff: fine
  AddRule(policy, 0xffffff00, 0x101, kReadWrite, kDeny);
  ExpectInvalid(policy, "rules[1]: first 0xffffff00 + count 257 runs past the last MSR 0xffffffff");
}

TEST(MsrPolicyValidationTest, AccessAndActionMustBeSet) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, v1::MSR_ACCESS_UNSPECIFIED, kDeny);
  ExpectInvalid(policy, "rules[0].access: must be READ, WRITE or READ_WRITE");
  policy.mutable_rules(0)->set_access(static_cast<v1::MsrAccess>(7));
  ExpectInvalid(policy, "rules[0].access:");
  policy.mutable_rules(0)->set_access(kRead);
  policy.mutable_rules(0)->set_action(v1::MSR_ACTION_UNSPECIFIED);
  ExpectInvalid(policy, "rules[0].action: must be ALLOW, DENY or EMULATE");
}

TEST(MsrPolicyValidationTest, DenyOrEmulateMustNotTouchX2apic) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x10, 1, kReadWrite, kDeny);
  AddRule(policy, 0x20, 1, kReadWrite, kDeny);
  AddRule(policy, 0x30, 1, kReadWrite, kDeny);
  AddRule(policy, 0x7f0, 0x11, kWrite, kDeny);  // 0x7f0-0x800
  ExpectInvalid(policy, "rules[3]: covers x2APIC MSRs 0x800-0x8ff, which KVM cannot filter");
  policy.mutable_rules(3)->set_first(0x8ff);
  policy.mutable_rules(3)->set_count(1);
  policy.mutable_rules(3)->set_action(kEmulate);
  ExpectInvalid(policy, "rules[3]: covers x2APIC MSRs");
  // ALLOW says what KVM does anyway: accepted.
  policy.mutable_rules(3)->set_first(0);
  policy.mutable_rules(3)->set_count(0x2000);
  policy.mutable_rules(3)->set_action(kAllow);
  EXPECT_TRUE(CompileMsrPolicy(policy, {}).ok());
}

TEST(MsrPolicyValidationTest, HandlerReadMustBeSetWriteDefaultsToGp) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x35, 1, kReadWrite, kEmulate);
  AddHandler(policy, 0x35, v1::MsrHandler::READ_SOURCE_UNSPECIFIED);
  ExpectInvalid(policy, "handlers[0].read: must be CONSTANT, TOPOLOGY, LAST_WRITTEN or GP");
  policy.mutable_handlers(0)->set_read(v1::MsrHandler::READ_SOURCE_TOPOLOGY);
  policy.mutable_handlers(0)->set_write(static_cast<v1::MsrHandler::WriteAction>(99));
  ExpectInvalid(policy, "handlers[0].write: must be IGNORE, STORE, GP or ONLY_CONSTANT (unset means GP)");
  policy.mutable_handlers(0)->set_write(v1::MsrHandler::WRITE_ACTION_UNSPECIFIED);  // means GP
  EXPECT_TRUE(ValidateMsrPolicy(policy, {.cores = 1, .threads = 1}).ok());
}

TEST(MsrPolicyValidationTest, DuplicateHandlers) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x35, 2, kReadWrite, kEmulate);
  AddHandler(policy, 0x35);
  AddHandler(policy, 0x36);
  AddHandler(policy, 0x35);
  ExpectInvalid(policy, "handlers[2]: duplicate handler for MSR 0x35 (handlers[0] has it)");
}

TEST(MsrPolicyValidationTest, HandlerMustBeTrapped) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x34, 1, kReadWrite, kEmulate);
  AddHandler(policy, 0x34);
  AddHandler(policy, 0x35);
  ExpectInvalid(policy, "handlers[1]: MSR 0x35 is not trapped by any EMULATE rule");
  // Shadowed by an earlier ALLOW: not trapped either.
  v1::MsrPolicy shadowed;
  AddRule(shadowed, 0x35, 1, kReadWrite, kAllow);
  AddRule(shadowed, 0x30, 16, kReadWrite, kEmulate);
  AddHandler(shadowed, 0x35);
  ExpectInvalid(shadowed, "handlers[0]: MSR 0x35 is not trapped");
  // One direction trapped is enough.
  v1::MsrPolicy write_only;
  AddRule(write_only, 0x35, 1, kWrite, kEmulate);
  AddHandler(write_only, 0x35);
  EXPECT_TRUE(CompileMsrPolicy(write_only, {}).ok());
}

TEST(MsrPolicyValidationTest, UnknownEmulateAllowsHandlersForAnyReachableMsr) {
  v1::MsrPolicy policy;
  policy.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  AddHandler(policy, 0x35);
  EXPECT_TRUE(CompileMsrPolicy(policy, {}).ok());
  // ... but not for an MSR denied both ways: nothing reaches the handler.
  AddRule(policy, 0x35, 1, kReadWrite, kDeny);
  ExpectInvalid(policy, "handlers[0]: MSR 0x35 is denied for reads and writes (rules[0])");
  policy.mutable_rules(0)->set_access(kWrite);
  EXPECT_TRUE(CompileMsrPolicy(policy, {}).ok());
}

TEST(MsrPolicyValidationTest, NoHandlerForX2apic) {
  v1::MsrPolicy policy;
  policy.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  AddHandler(policy, 0x830);
  ExpectInvalid(policy, "handlers[0]: MSR 0x830 is an x2APIC MSR");
}

TEST(MsrPolicyValidationTest, TopologyHandlerNeedsATopology) {
  v1::MsrPolicy policy;
  AddRule(policy, 0x35, 1, kReadWrite, kEmulate);
  AddHandler(policy, 0x35, v1::MsrHandler::READ_SOURCE_TOPOLOGY);
  ExpectInvalid(policy, "handlers[0].read: READ_SOURCE_TOPOLOGY needs 1-65535 cores and threads, got cores=0",
                MsrTopology{0, 0});
  ExpectInvalid(policy, "threads=65536", MsrTopology{1, 65536});
  EXPECT_TRUE(CompileMsrPolicy(policy, MsrTopology{4, 8}).ok());
}

TEST(MsrPolicyValidationTest, SizeLimits) {
  v1::MsrPolicy policy;
  for (size_t i = 0; i <= kMaxMsrRules; ++i) AddRule(policy, 0x10, 1, kRead, kAllow);
  ExpectInvalid(policy, "rules: 4097 rules, at most 4096");
}

}  // namespace
}  // namespace vmd::msr

// The MSR exit router: engine claims and the user's policy in one filter,
// claims first, the trapping vCPU passed to the claim's owner, and the
// policy left as it was when a claim goes.
#include "backend/vcpu/msr_exit_router.h"

#include <gtest/gtest.h>

#include <array>

#include "backend/msr/msr_filter.h"

namespace vmd::engine {
namespace {

// A per-vCPU register at one MSR: each vCPU reads what it wrote.
class PerVcpuRegister final : public MsrClaimHandler {
 public:
  msr::MsrAccessResult ReadMsr(uint32_t vcpu, uint32_t) override { return msr::MsrAccessResult::Value(values_[vcpu]); }
  msr::MsrAccessResult WriteMsr(uint32_t vcpu, uint32_t, uint64_t value) override {
    values_[vcpu] = value;
    return msr::MsrAccessResult::Value(0);
  }

 private:
  std::array<uint64_t, 4> values_{};
};

class MsrExitRouterTest : public ::testing::Test {
 protected:
  MsrExitRouter router_{{.cores = 4, .threads = 4}, [this](const msr::MsrFilter& filter, const std::function<void()>& commit) {
                          installed_ = filter;
                          ++installs_;
                          commit();
                          return absl::OkStatus();
                        }};
  msr::MsrFilter installed_;
  int installs_ = 0;
};

vmd::v1::MsrPolicy DenyRange(uint32_t first, uint32_t count) {
  vmd::v1::MsrPolicy policy;
  vmd::v1::MsrRule* rule = policy.add_rules();
  rule->set_first(first);
  rule->set_count(count);
  rule->set_access(vmd::v1::MSR_ACCESS_READ_WRITE);
  rule->set_action(vmd::v1::MSR_ACTION_DENY);
  return policy;
}

TEST_F(MsrExitRouterTest, AClaimAnswersBeforeThePolicyAndKnowsTheVcpu) {
  ASSERT_TRUE(router_.SetPolicy(DenyRange(0x4b564d00, 0x100)).ok());
  PerVcpuRegister reg;
  ASSERT_TRUE(router_.Claim("vpmu", {{.first = 0x4b564d10, .count = 1, .access = vmd::v1::MSR_ACCESS_READ_WRITE}}, &reg).ok());
  // The filter traps both: the claimed MSR and the rest of the denied range.
  EXPECT_FALSE(msr::KvmAllows(installed_, 0x4b564d10, false));
  EXPECT_FALSE(msr::KvmAllows(installed_, 0x4b564d11, false));
  EXPECT_FALSE(router_.Handle(1, 0x4b564d10, /*write=*/true, 0x77).gp);
  EXPECT_FALSE(router_.Handle(2, 0x4b564d10, /*write=*/true, 0x88).gp);
  EXPECT_EQ(router_.Handle(1, 0x4b564d10, false, 0).value, 0x77u);
  EXPECT_EQ(router_.Handle(2, 0x4b564d10, false, 0).value, 0x88u);
  EXPECT_TRUE(router_.Handle(1, 0x4b564d11, false, 0).gp) << "the policy's DENY";
  EXPECT_EQ(router_.policy().rules_size(), 1) << "the user's policy is unchanged";
  EXPECT_EQ(router_.Claim("vpmu", {{.first = 1, .count = 1}}, &reg).code(), absl::StatusCode::kAlreadyExists);

  ASSERT_TRUE(router_.Release("vpmu").ok());
  EXPECT_TRUE(router_.Handle(1, 0x4b564d10, false, 0).gp) << "back to the policy";
  EXPECT_EQ(router_.Release("vpmu").code(), absl::StatusCode::kNotFound);
}

TEST_F(MsrExitRouterTest, ClaimsWithoutAPolicyTrapOnlyWhatTheyClaim) {
  PerVcpuRegister reg;
  ASSERT_TRUE(router_.Claim("bench", {{.first = 0x4b564dff, .count = 1, .access = vmd::v1::MSR_ACCESS_READ}}, &reg).ok());
  EXPECT_FALSE(msr::KvmAllows(installed_, 0x4b564dff, /*write=*/false));
  EXPECT_TRUE(msr::KvmAllows(installed_, 0x4b564dff, /*write=*/true)) << "claimed for reads only";
  EXPECT_TRUE(msr::KvmAllows(installed_, 0x10, false));
  EXPECT_EQ(router_.Stats().counters_size(), 0);
  router_.Handle(0, 0x4b564dff, false, 0);
  EXPECT_EQ(router_.Stats().counters_size(), 1) << "claimed accesses are counted too";
}

TEST_F(MsrExitRouterTest, APolicyARuleAClaimShadowsIsStillValidWithAWarning) {
  PerVcpuRegister reg;
  ASSERT_TRUE(router_.Claim("vpmu", {{.first = 0x38f, .count = 1}}, &reg).ok());
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> set = router_.SetPolicy(DenyRange(0x38f, 1));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->warnings_size(), 1);
  EXPECT_NE(set->warnings(0).find("the engine's claim (vpmu)"), std::string::npos) << set->warnings(0);
  EXPECT_EQ(router_.Claim("x2apic", {{.first = 0x800, .count = 0x10}}, &reg).code(),
            absl::StatusCode::kInvalidArgument)
      << "KVM cannot filter x2APIC MSRs";
}

TEST_F(MsrExitRouterTest, AFailedInstallChangesNothing) {
  ASSERT_TRUE(router_.SetPolicy(DenyRange(0x10, 1)).ok());
  const int before = installs_;
  vmd::v1::MsrPolicy bad = DenyRange(0x10, 0);  // count 0 is invalid
  EXPECT_EQ(router_.SetPolicy(bad).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(installs_, before);
  EXPECT_TRUE(router_.Handle(0, 0x10, false, 0).gp) << "the old policy is in force";
}

}  // namespace
}  // namespace vmd::engine

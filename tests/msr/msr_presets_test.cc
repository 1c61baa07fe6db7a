// Presets: they exist, compile for both vendors, and mean what README.md
// says.
#include "backend/msr/msr_presets.h"

#include "backend/msr/msr_index.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_policy_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vmd::msr {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

CompiledMsrPolicy CompilePreset(const std::string& name, cpu::CpuVendor vendor) {
  absl::StatusOr<v1::MsrPolicy> policy = MsrPreset(name, vendor);
  EXPECT_TRUE(policy.ok()) << policy.status();
  if (!policy.ok()) return {};
  EXPECT_EQ(policy->preset(), name);
  absl::StatusOr<CompiledMsrPolicy> compiled = CompileMsrPolicy(*policy, MsrTopology{2, 4});
  EXPECT_TRUE(compiled.ok()) << name << ": " << compiled.status();
  return compiled.ok() ? *std::move(compiled) : CompiledMsrPolicy();
}

bool Allowed(const std::string& name, cpu::CpuVendor vendor, uint32_t index, bool write) {
  return PolicyAction(*MsrPreset(name, vendor), index, write) == v1::MSR_ACTION_ALLOW;
}

TEST(MsrPresetsTest, EveryPresetCompilesForBothVendorsWithoutWarnings) {
  for (const std::string& name : MsrPresetNames()) {
    for (cpu::CpuVendor vendor : {cpu::CpuVendor::kIntel, cpu::CpuVendor::kAmd}) {
      CompiledMsrPolicy c = CompilePreset(name, vendor);
      EXPECT_THAT(c.warnings, IsEmpty()) << name;
      EXPECT_LE(c.filter.ranges.size(), kMsrFilterMaxRanges) << name;
      EXPECT_TRUE(ValidateMsrFilter(c.filter).ok()) << name;
    }
  }
}

TEST(MsrPresetsTest, UnknownPresetNamesTheField) {
  absl::StatusOr<v1::MsrPolicy> p = MsrPreset("lenient", cpu::CpuVendor::kIntel);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("preset: unknown preset \"lenient\""));
}

TEST(MsrPresetsTest, DefaultAllowsEverythingWithoutAFilter) {
  CompiledMsrPolicy c = CompilePreset("default", cpu::CpuVendor::kIntel);
  EXPECT_THAT(c.filter.ranges, IsEmpty());
  EXPECT_FALSE(c.filter.default_deny);
  EXPECT_EQ(c.filter.exit_reasons, 0u);
}

TEST(MsrPresetsTest, StrictAllowsWhatAGuestNeedsAndDeniesTheRest) {
  for (cpu::CpuVendor vendor : {cpu::CpuVendor::kIntel, cpu::CpuVendor::kAmd}) {
    for (uint32_t msr :
         {kMsrTsc,         kMsrApicBase, kMsrEfer,         kMsrStar,       kMsrLstar,   kMsrCstar,       kMsrSfmask,
          kMsrFsBase,      kMsrGsBase,   kMsrKernelGsBase, kMsrSysenterCs, kMsrPat,     kMsrMtrrDefType, kMsrMiscEnable,
          kMsrTscDeadline, kMsrTscAux,   kMsrSpecCtrl,     kMsrXss,        0x4b564d01u, 0x4b564d04u}) {
      EXPECT_TRUE(Allowed("strict", vendor, msr, false)) << std::hex << msr;
      EXPECT_TRUE(Allowed("strict", vendor, msr, true)) << std::hex << msr;
    }
    EXPECT_TRUE(Allowed("strict", vendor, kMsrArchCapabilities, false));
    EXPECT_FALSE(Allowed("strict", vendor, kMsrArchCapabilities, true));  // read-only
    EXPECT_TRUE(Allowed("strict", vendor, kMsrPredCmd, true));
    EXPECT_FALSE(Allowed("strict", vendor, kMsrPredCmd, false));  // write-only
    EXPECT_FALSE(Allowed("strict", vendor, kMsrCoreThreadCount, false));
    EXPECT_FALSE(Allowed("strict", vendor, kMsrPerfCapabilities, false));
    EXPECT_FALSE(Allowed("strict", vendor, 0x40000000, false));  // Hyper-V
    EXPECT_TRUE(Allowed("strict", vendor, 0x830, true));         // x2APIC: always
  }
  EXPECT_TRUE(Allowed("strict", cpu::CpuVendor::kIntel, kMsrFeatureControl, false));
  EXPECT_FALSE(Allowed("strict", cpu::CpuVendor::kAmd, kMsrFeatureControl, false));
  EXPECT_TRUE(Allowed("strict", cpu::CpuVendor::kAmd, kMsrAmdHwcr, true));
  EXPECT_FALSE(Allowed("strict", cpu::CpuVendor::kIntel, kMsrAmdHwcr, true));
  CompiledMsrPolicy c = CompilePreset("strict", cpu::CpuVendor::kIntel);
  EXPECT_TRUE(c.filter.default_deny);
  EXPECT_EQ(c.filter.exit_reasons, kMsrExitReasonFilter);
}

TEST(MsrPresetsTest, PlatformCompatDeniesTheOtherVendor) {
  // Intel host: AMD ranges denied, Intel ones allowed.
  EXPECT_FALSE(Allowed("platform-compat", cpu::CpuVendor::kIntel, kMsrAmdHwcr, false));
  EXPECT_FALSE(Allowed("platform-compat", cpu::CpuVendor::kIntel, 0xc001ffff, true));
  EXPECT_FALSE(Allowed("platform-compat", cpu::CpuVendor::kIntel, kMsrAmdTscRatio, true));
  EXPECT_TRUE(Allowed("platform-compat", cpu::CpuVendor::kIntel, 0xc0020000, true));
  EXPECT_TRUE(Allowed("platform-compat", cpu::CpuVendor::kIntel, kMsrFeatureControl, false));
  EXPECT_TRUE(Allowed("platform-compat", cpu::CpuVendor::kIntel, kMsrVmxBasic, false));
  // AMD host: Intel-only MSRs denied, AMD ones allowed.
  for (uint32_t msr :
       {kMsrFeatureControl, kMsrVmxBasic, kMsrVmxVmfunc, kMsrPerfCapabilities, kMsrLbrSelect, kMsrLbrFrom0, kMsrLbrTo31,
        kMsrLbrInfo0, kMsrArchLbrCtl, kMsrArchLbrFrom0, kMsrPebsEnable, kMsrDsArea, kMsrRtitCtl, kMsrTsxCtrl}) {
    EXPECT_FALSE(Allowed("platform-compat", cpu::CpuVendor::kAmd, msr, false)) << std::hex << msr;
  }
  EXPECT_TRUE(Allowed("platform-compat", cpu::CpuVendor::kAmd, kMsrAmdHwcr, false));
  EXPECT_TRUE(Allowed("platform-compat", cpu::CpuVendor::kAmd, kMsrEfer, true));
  // Fits KVM: the 64K AMD block alone takes six ranges.
  CompiledMsrPolicy intel = CompilePreset("platform-compat", cpu::CpuVendor::kIntel);
  EXPECT_FALSE(intel.filter.default_deny);
  EXPECT_EQ(intel.filter.ranges.size(), 7u);
  CompiledMsrPolicy amd = CompilePreset("platform-compat", cpu::CpuVendor::kAmd);
  EXPECT_LE(amd.filter.ranges.size(), 2u);
}

}  // namespace
}  // namespace vmd::msr

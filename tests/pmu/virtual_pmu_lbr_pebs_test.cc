// The virtual PMU's LBR, Arch LBR and PEBS MSRs (backend/pmu/virtual_pmu.h),
// after kvm-unit-tests pmu_lbr.c and seeds 000-004.
#include <gtest/gtest.h>

#include <cstdint>

#include "backend/pmu/perf_capabilities.h"
#include "backend/pmu/pmu_msrs.h"
#include "backend/pmu/virtual_pmu.h"
#include "tests/pmu/virtual_pmu_test_util.h"

namespace vmd::pmu {
namespace {

using namespace test_util;  // FakeClock, the shapes, Exists

// ---- legacy LBR ----

TEST(VirtualPmuTest, LegacyLbrMsrsOnlyWhenGranted) {
  FakeClock clock;
  VirtualPmu off(Shape(2), 1, &clock);
  for (uint32_t index : {kMsrLbrSelect, kMsrLbrTos, kMsrLbrFrom0, kMsrLbrTo0, kMsrLbrInfo0, kMsrArchLbrCtl,
                         kMsrArchLbrDepth, kMsrArchLbrFrom0}) {
    EXPECT_FALSE(off.Read(0, index).has_value()) << std::hex << index;
    EXPECT_FALSE(off.Write(0, index, 0)) << std::hex << index;
  }
  // Without LBR, DEBUGCTL.LBR and BTF are dropped silently (vmx_set_msr);
  // FREEZE_LBRS_ON_PMI #GPs.
  EXPECT_TRUE(off.Write(0, kMsrDebugCtl, kDebugCtlLbr | kDebugCtlBtf));
  EXPECT_EQ(off.Read(0, kMsrDebugCtl), 0u);
  EXPECT_FALSE(off.Write(0, kMsrDebugCtl, kDebugCtlFreezeLbrsOnPmi));

  VirtualPmu on(LegacyLbrShape(2, 32, kLbrFormatInfo), 1, &clock);
  EXPECT_TRUE(on.Write(0, kMsrDebugCtl, kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi | kDebugCtlBtf));
  EXPECT_EQ(on.Read(0, kMsrDebugCtl), kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi);
  EXPECT_FALSE(on.Write(0, kMsrDebugCtl, kDebugCtlFreezePerfmonOnPmi));
  EXPECT_TRUE(on.Write(0, kMsrLbrSelect, 0x3c4));
  EXPECT_EQ(on.Read(0, kMsrLbrSelect), 0x3c4u);
  EXPECT_TRUE(on.Write(0, kMsrLbrTos, 7));
  EXPECT_EQ(on.Read(0, kMsrLbrTos), 7u);
  for (uint32_t i = 0; i < 32; ++i) {
    EXPECT_TRUE(on.Write(0, kMsrLbrFrom0 + i, 0x1000 + i));
    EXPECT_TRUE(on.Write(0, kMsrLbrTo0 + i, 0x2000 + i));
    EXPECT_TRUE(on.Write(0, kMsrLbrInfo0 + i, 0x3000 + i));
  }
  EXPECT_EQ(on.Read(0, kMsrLbrFrom0 + 31), 0x101fu);
  EXPECT_EQ(on.Read(0, kMsrLbrTo0 + 3), 0x2003u);
  EXPECT_EQ(on.Read(0, kMsrLbrInfo0 + 5), 0x3005u);
  for (uint32_t index : {kMsrArchLbrCtl, kMsrArchLbrDepth, kMsrArchLbrFrom0}) {
    EXPECT_FALSE(on.Read(0, index).has_value()) << std::hex << index;
  }
}

TEST(VirtualPmuTest, LbrInfoExistsOnlyForInfoFormats) {
  FakeClock clock;
  for (uint64_t format : {uint64_t{1}, uint64_t{3}, uint64_t{4}, uint64_t{5}, uint64_t{6}, uint64_t{7}}) {
    VirtualPmu pmu(LegacyLbrShape(2, 32, format), 1, &clock);
    const bool info = format == kLbrFormatInfo || format == kLbrFormatInfo2;
    EXPECT_EQ(pmu.Write(0, kMsrLbrInfo0, 1), info) << format;
    EXPECT_TRUE(pmu.Write(0, kMsrLbrFrom0, 1)) << format;
  }
}

TEST(VirtualPmuTest, PmuLbrDepthProbeFindsTheDepth) {
  FakeClock clock;
  for (uint32_t depth : {8u, 16u, 32u}) {
    VirtualPmu pmu(LegacyLbrShape(2, depth, kLbrFormatInfo), 1, &clock);
    // kvm-unit-tests pmu_lbr.c: the first FROM whose write #GPs ends the stack.
    uint32_t max = 0;
    while (max < 64 && pmu.Write(0, kMsrLbrFrom0 + max, 0)) ++max;
    EXPECT_EQ(max, depth);
    uint32_t to = 0;
    while (to < 64 && pmu.Write(0, kMsrLbrTo0 + to, 0)) ++to;
    EXPECT_EQ(to, depth);
  }
}

TEST(VirtualPmuTest, LegacyFreezeOnPmiClearsDebugCtlLbrBelowVersion4) {
  FakeClock clock;
  VirtualPmu pmu(LegacyLbrShape(2, 32, kLbrFormatInfo), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrDebugCtl, kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 1, 0);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrDebugCtl), kDebugCtlFreezeLbrsOnPmi);
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1u);
}

TEST(VirtualPmuTest, StreamlinedFreezeSetsLbrFrzFromVersion4) {
  FakeClock clock;
  VirtualPmu pmu(LegacyLbrShape(4, 32, kLbrFormatInfo), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrDebugCtl, kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 1, 0);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrDebugCtl), kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi);  // LBR_EN stays
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1 | kStatusLbrFrz);
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalOvfCtrl, 1 | kStatusLbrFrz));  // resumes
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 0u);

  // Without FREEZE_LBRS_ON_PMI nothing freezes.
  ASSERT_TRUE(pmu.Write(0, kMsrDebugCtl, kDebugCtlLbr));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 1, 0);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1u);
}

// ---- Arch LBR ----

TEST(VirtualPmuTest, ArchLbrDepthTakesTheMaximumEnumeratedDepthAndClearsRecords) {
  FakeClock clock;
  VirtualPmu pmu(ArchLbrShape(0x9), 1, &clock);  // depths 8 and 32
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrDepth), 32u);
  EXPECT_TRUE(pmu.Write(0, kMsrArchLbrFrom0 + 31, 0xaa));
  EXPECT_TRUE(pmu.Write(0, kMsrArchLbrTo0, 0xbb));
  EXPECT_TRUE(pmu.Write(0, kMsrArchLbrInfo0 + 2, 0xcc));
  EXPECT_FALSE(pmu.Write(0, kMsrArchLbrFrom0 + 32, 0));
  EXPECT_FALSE(pmu.Read(0, kMsrArchLbrInfo0 + 32).has_value());
  EXPECT_FALSE(pmu.Write(0, kMsrArchLbrDepth, 16));  // not enumerated
  EXPECT_FALSE(pmu.Write(0, kMsrArchLbrDepth, 8));   // enumerated, but KVM takes only the maximum
  EXPECT_FALSE(pmu.Write(0, kMsrArchLbrDepth, 0));
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrFrom0 + 31), 0xaau);
  EXPECT_TRUE(pmu.Write(0, kMsrArchLbrDepth, 32));
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrDepth), 32u);
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrFrom0 + 31), 0u);
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrTo0), 0u);
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrInfo0 + 2), 0u);

  VirtualPmu deep(ArchLbrShape(0xff), 1, &clock);
  EXPECT_EQ(deep.Read(0, kMsrArchLbrDepth), 64u);
  EXPECT_TRUE(deep.Write(0, kMsrArchLbrTo0 + 63, 1));
  EXPECT_FALSE(deep.Write(0, kMsrArchLbrTo0 + 64, 1));
}

TEST(VirtualPmuTest, ArchLbrCtlReservedBitsAndLegacyMsrsAbsent) {
  FakeClock clock;
  VirtualPmu pmu(ArchLbrShape(0x8), 1, &clock);
  EXPECT_TRUE(pmu.Write(0, kMsrArchLbrCtl, 0x7f000f));
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrCtl), 0x7f000fu);
  for (uint64_t bad : {uint64_t{1} << 4, uint64_t{1} << 15, uint64_t{1} << 23, uint64_t{1} << 32}) {
    EXPECT_FALSE(pmu.Write(0, kMsrArchLbrCtl, bad)) << std::hex << bad;
  }
  for (uint32_t index : {kMsrLbrSelect, kMsrLbrTos, kMsrLbrFrom0, kMsrLbrTo0, kMsrLbrInfo0}) {
    EXPECT_FALSE(pmu.Read(0, index).has_value()) << std::hex << index;
    EXPECT_FALSE(pmu.Write(0, index, 0)) << std::hex << index;
  }
  // DEBUGCTL.LBR means nothing under Arch LBR: accepted, reads 0.
  EXPECT_TRUE(pmu.Write(0, kMsrDebugCtl, kDebugCtlLbr | kDebugCtlFreezeLbrsOnPmi));
  EXPECT_EQ(pmu.Read(0, kMsrDebugCtl), kDebugCtlFreezeLbrsOnPmi);

  // Filters CPUID 0x1C EBX does not enumerate #GP.
  VirtualPmuShape s = ArchLbrShape(0x8);
  s.arch_lbr_capabilities = 0;
  VirtualPmu bare(s, 1, &clock);
  EXPECT_TRUE(bare.Write(0, kMsrArchLbrCtl, kArchLbrCtlEnable));
  EXPECT_FALSE(bare.Write(0, kMsrArchLbrCtl, kArchLbrCtlCpl));
  EXPECT_FALSE(bare.Write(0, kMsrArchLbrCtl, kArchLbrCtlStack));
  EXPECT_FALSE(bare.Write(0, kMsrArchLbrCtl, uint64_t{1} << 16));
}

TEST(VirtualPmuTest, ArchLbrStreamlinedFreezeUsesLbrEn) {
  FakeClock clock;
  VirtualPmu pmu(ArchLbrShape(0x8), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrArchLbrCtl, kArchLbrCtlEnable));
  ASSERT_TRUE(pmu.Write(0, kMsrDebugCtl, kDebugCtlFreezeLbrsOnPmi));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 1, 0);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1 | kStatusLbrFrz);
  EXPECT_EQ(pmu.Read(0, kMsrArchLbrCtl), kArchLbrCtlEnable);
}

// ---- PEBS ----

TEST(VirtualPmuTest, PebsMsrsGatedByKind) {
  FakeClock clock;
  VirtualPmu none(Shape(2, 4, 3), 1, &clock);
  for (uint32_t index : {kMsrPebsEnable, kMsrDsArea, kMsrPebsDataCfg, kMsrPebsLdLat}) {
    EXPECT_FALSE(none.Read(0, index).has_value()) << std::hex << index;
    EXPECT_FALSE(none.Write(0, index, 0)) << std::hex << index;
  }

  VirtualPmuShape s = Shape(2, 4, 3);
  s.pebs = PebsKind::kBasic;
  VirtualPmu basic(s, 1, &clock);
  EXPECT_TRUE(basic.Write(0, kMsrPebsEnable, 0xf));
  EXPECT_EQ(basic.Read(0, kMsrPebsEnable), 0xfu);
  EXPECT_FALSE(basic.Write(0, kMsrPebsEnable, 0x10));
  EXPECT_FALSE(basic.Write(0, kMsrPebsEnable, uint64_t{1} << 32));  // fixed counters need PEBS_BASELINE
  EXPECT_FALSE(basic.Read(0, kMsrPebsDataCfg).has_value());
  EXPECT_FALSE(basic.Write(0, kMsrPebsLdLat, 3));
  EXPECT_TRUE(basic.Write(0, kMsrDsArea, 0xffff800012345000));
  EXPECT_EQ(basic.Read(0, kMsrDsArea), 0xffff800012345000u);
  EXPECT_TRUE(basic.Write(0, kMsrDsArea, 0x00007ffffffff000));
  EXPECT_FALSE(basic.Write(0, kMsrDsArea, 0x0000800000000000));
  EXPECT_FALSE(basic.Write(0, kMsrDsArea, 0xfff0000000000000));
  EXPECT_EQ(basic.Read(0, kMsrDsArea), 0x00007ffffffff000u);

  s.pebs = PebsKind::kAdaptive;
  VirtualPmu adaptive(s, 1, &clock);
  EXPECT_TRUE(adaptive.Write(0, kMsrPebsEnable, 0xf | (uint64_t{0x7} << 32)));
  EXPECT_FALSE(adaptive.Write(0, kMsrPebsEnable, uint64_t{1} << 35));  // fixed counter 3 absent
  EXPECT_TRUE(adaptive.Write(0, kMsrPebsDataCfg, 0xff00000f));
  EXPECT_EQ(adaptive.Read(0, kMsrPebsDataCfg), 0xff00000fu);
  EXPECT_FALSE(adaptive.Write(0, kMsrPebsDataCfg, 0x10));
  EXPECT_FALSE(adaptive.Write(0, kMsrPebsDataCfg, uint64_t{1} << 32));
  EXPECT_TRUE(adaptive.Write(0, kMsrFixedCtrCtrl, uint64_t{1} << (kFixedAdaptiveShift + 8)));
}

TEST(VirtualPmuTest, PebsCounterOverflowIsDroppedAsKvmDropsEmulatedOnes) {
  FakeClock clock;
  VirtualPmuShape s = Shape(2, 2, 0);
  s.pebs = PebsKind::kBasic;
  VirtualPmu pmu(s, 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrPebsEnable, 1));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 2, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 1u);
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 0u);
  EXPECT_FALSE(pmu.TakePmi(0));
  EXPECT_FALSE(pmu.Read(0, kMsrGlobalInuse).has_value());  // v2
}

}  // namespace
}  // namespace vmd::pmu

// The virtual PMU's guest-visible rules (backend/pmu/virtual_pmu.h), table-
// driven after KVM's selftests pmu_counters_test.c and vmx_pmu_caps_test.c
// and the seed series: versions, counters, counting, RDPMC, snapshots. LBR,
// Arch LBR and PEBS: virtual_pmu_lbr_pebs_test.cc.
#include "backend/pmu/virtual_pmu.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/pmu/perf_capabilities.h"
#include "backend/pmu/pmu_msrs.h"
#include "tests/pmu/virtual_pmu_test_util.h"

namespace vmd::pmu {
namespace {

using namespace test_util;  // FakeClock, the shapes, Exists


// ---- which MSRs exist, per version ----

struct VersionCase {
  uint32_t version;
  bool counters;  // PERFEVTSEL2 / PMC2 / full-width PMC2
  bool fixed;     // FIXED_CTR0, FIXED_CTR_CTRL
  bool global;    // GLOBAL_STATUS / _CTRL / _OVF_CTRL
  bool v4;        // GLOBAL_STATUS_SET / _INUSE
};

class VersionTest : public ::testing::TestWithParam<VersionCase> {};

TEST_P(VersionTest, MsrsExistPerVersion) {
  const VersionCase& c = GetParam();
  FakeClock clock;
  VirtualPmuShape s = Shape(c.version);
  s.pdcm = true;
  s.perf_capabilities = kPerfCapFwWrites;
  VirtualPmu pmu(s, 1, &clock);
  EXPECT_EQ(Exists(pmu, kMsrEventSel0 + 2), c.counters);
  EXPECT_EQ(Exists(pmu, kMsrPerfCtr0 + 2), c.counters);
  EXPECT_EQ(Exists(pmu, kMsrFullPmc0 + 2), c.counters);
  EXPECT_EQ(pmu.Write(0, kMsrPerfCtr0 + 2, 5), c.counters);
  EXPECT_EQ(Exists(pmu, kMsrFixedCtr0), c.fixed);
  EXPECT_EQ(Exists(pmu, kMsrFixedCtrCtrl), c.fixed);
  EXPECT_EQ(pmu.Write(0, kMsrFixedCtrCtrl, 0), c.fixed);
  for (uint32_t index : {kMsrGlobalStatus, kMsrGlobalCtrl, kMsrGlobalOvfCtrl}) {
    EXPECT_EQ(Exists(pmu, index), c.global) << std::hex << index;
  }
  EXPECT_EQ(pmu.Write(0, kMsrGlobalOvfCtrl, 0), c.global);
  EXPECT_EQ(Exists(pmu, kMsrGlobalStatusSet), c.v4);
  EXPECT_EQ(Exists(pmu, kMsrGlobalInuse), c.v4);
  EXPECT_EQ(pmu.Write(0, kMsrGlobalStatusSet, 0), c.v4);
  EXPECT_EQ(pmu.Rdpmc(0, 0).has_value(), c.counters);
  // GLOBAL_CTRL's RESET value enables every GP counter (kvm_pmu_refresh).
  if (c.global) {
    EXPECT_EQ(pmu.Read(0, kMsrGlobalCtrl), 0xfu);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Versions, VersionTest,
    ::testing::Values(VersionCase{0, false, false, false, false}, VersionCase{1, true, false, false, false},
                      VersionCase{2, true, true, true, false}, VersionCase{3, true, true, true, false},
                      VersionCase{4, true, true, true, true}, VersionCase{5, true, true, true, true}),
    // StrCat, not "V" + std::to_string: GCC 12 at -O3 reports a false
    // -Wrestrict in operator+(const char*, string&&).
    [](const auto& info) { return absl::StrCat("V", info.param.version); });

TEST(VirtualPmuTest, VersionZeroHasNoPmuButKeepsKvmsP6Quirk) {
  FakeClock clock;
  VirtualPmu pmu(Shape(0), 1, &clock);
  // kvm_{get,set}_msr_common(): MSR_P6_PERFCTR0/1 and MSR_P6_EVNTSEL0/1
  // read 0 and drop writes instead of #GP.
  for (uint32_t index : {kMsrPerfCtr0, kMsrPerfCtr0 + 1, kMsrEventSel0, kMsrEventSel0 + 1}) {
    EXPECT_EQ(pmu.Read(0, index), 0u) << std::hex << index;
    EXPECT_TRUE(pmu.Write(0, index, 0x1234)) << std::hex << index;
    EXPECT_EQ(pmu.Read(0, index), 0u) << std::hex << index;
  }
  for (uint32_t index : {kMsrPerfCtr0 + 2, kMsrEventSel0 + 2, kMsrFullPmc0, kMsrFixedCtr0, kMsrFixedCtrCtrl,
                         kMsrGlobalCtrl, kMsrGlobalStatus, kMsrPebsEnable, kMsrLbrSelect, kMsrArchLbrCtl}) {
    EXPECT_FALSE(pmu.Read(0, index).has_value()) << std::hex << index;
    EXPECT_FALSE(pmu.Write(0, index, 0)) << std::hex << index;
  }
  EXPECT_FALSE(pmu.Rdpmc(0, 0).has_value());
  EXPECT_FALSE(pmu.Rdpmc(0, kRdpmcFixed).has_value());
}

// ---- fixed counters: every count 0..4 x bitmap 0..0xf, versions 1-5 ----

TEST(VirtualPmuTest, FixedCounterExistenceFollowsCountAndBitmap) {
  FakeClock clock;
  for (uint32_t v = 1; v <= 5; ++v) {
    for (uint32_t count = 0; count <= 4; ++count) {
      for (uint32_t bitmap = 0; bitmap <= 0xf; ++bitmap) {
        VirtualPmuShape s = Shape(v, 2, count);
        s.fixed_counter_bitmap = bitmap;
        VirtualPmu pmu(s, 1, &clock);
        for (uint32_t i = 0; i < kFixedCounterSlots; ++i) {
          SCOPED_TRACE(testing::Message() << "v" << v << " count " << count << " bitmap " << bitmap << " i " << i);
          const bool expect = v >= 2 && (i < count || (v >= 5 && ((bitmap >> i) & 1)));
          EXPECT_EQ(FixedCounterExists(s, i), expect);
          EXPECT_EQ(pmu.Write(0, kMsrFixedCtr0 + i, 0xffff), expect);
          EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + i), expect ? std::optional<uint64_t>(0xffff) : std::nullopt);
          EXPECT_EQ(pmu.Rdpmc(0, kRdpmcFixed | i), expect ? std::optional<uint64_t>(0xffff) : std::nullopt);
          // Enabling an absent counter #GPs in both controls.
          EXPECT_EQ(pmu.Write(0, kMsrFixedCtrCtrl, FixedCtrlField(kFixedKernel, i)), expect);
          EXPECT_EQ(pmu.Write(0, kMsrGlobalCtrl, uint64_t{1} << (kFixedIdxBase + i)), expect);
          EXPECT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, 0) || v < 2);
          EXPECT_EQ(pmu.Write(0, kMsrFixedCtr0 + i, 0), expect);
        }
      }
    }
  }
}

TEST(VirtualPmuTest, FixedCtrCtrlReservesAnyThreadAndFixedWritesAreCut) {
  FakeClock clock;
  VirtualPmuShape s = Shape(2, 2, 3);
  s.fixed_counter_width = 40;
  VirtualPmu pmu(s, 1, &clock);
  EXPECT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, 0xbbb));
  EXPECT_FALSE(pmu.Write(0, kMsrFixedCtrCtrl, FixedCtrlField(kFixedAnyThread, 0)));
  EXPECT_FALSE(pmu.Write(0, kMsrFixedCtrCtrl, uint64_t{1} << kFixedAdaptiveShift));  // no adaptive PEBS
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtrCtrl), 0xbbbu);
  // pmc_write_counter(): fixed counter writes are cut to the width, no #GP.
  EXPECT_TRUE(pmu.Write(0, kMsrFixedCtr0, ~uint64_t{0}));
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0), (uint64_t{1} << 40) - 1);
}

// ---- GP counters 0..N with and without FW_WRITES ----

struct GpCase {
  uint32_t counters;
  bool fw_writes;
};

class GpCounterTest : public ::testing::TestWithParam<GpCase> {};

TEST_P(GpCounterTest, AccessMatchesKvm) {
  const GpCase& c = GetParam();
  FakeClock clock;
  VirtualPmuShape s = Shape(2, c.counters, 0);
  s.pdcm = true;
  s.perf_capabilities = c.fw_writes ? kPerfCapFwWrites : 0;
  VirtualPmu pmu(s, 1, &clock);
  for (uint32_t i = 0; i < kGpCounterSlots; ++i) {
    SCOPED_TRACE(testing::Message() << "counters " << c.counters << " fw " << c.fw_writes << " i " << i);
    const bool expect = i < c.counters;
    const bool quirk = !expect && i < 2;  // MSR_P6_PERFCTR0/1: dropped, read 0
    EXPECT_EQ(pmu.Write(0, kMsrPerfCtr0 + i, 0xffff), expect || quirk);
    EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + i), expect  ? std::optional<uint64_t>(0xffff)
                                             : quirk ? std::optional<uint64_t>(0)
                                                     : std::nullopt);
    EXPECT_EQ(pmu.Rdpmc(0, i), expect ? std::optional<uint64_t>(0xffff) : std::nullopt);
    // Fast RDPMC does not exist on architectural PMUs.
    EXPECT_FALSE(pmu.Rdpmc(0, i | kRdpmcFast).has_value());
    EXPECT_EQ(pmu.Write(0, kMsrEventSel0 + i, kCyclesEvent), expect || quirk);
    if (expect) {
      // A legacy write is sign-extended from bit 31, then cut to 48 bits.
      EXPECT_TRUE(pmu.Write(0, kMsrPerfCtr0 + i, 0x80000000));
      EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + i), 0xffff80000000u);
    }
    const bool full = expect && c.fw_writes;
    EXPECT_EQ(pmu.Write(0, kMsrFullPmc0 + i, 0x123456789a), full);
    EXPECT_EQ(pmu.Read(0, kMsrFullPmc0 + i), full ? std::optional<uint64_t>(0x123456789a) : std::nullopt);
    if (full) {
      EXPECT_FALSE(pmu.Write(0, kMsrFullPmc0 + i, uint64_t{1} << 48));  // above the width
      EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + i), 0x123456789au);          // one counter, two aliases
    }
  }
  EXPECT_EQ(pmu.Read(0, kMsrGlobalCtrl), (uint64_t{1} << c.counters) - 1);
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalCtrl, uint64_t{1} << c.counters));
}

std::vector<GpCase> AllGpCases() {
  std::vector<GpCase> cases;
  for (uint32_t n = 0; n <= kGpCounterSlots; ++n) {
    cases.push_back({n, false});
    cases.push_back({n, true});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Counters, GpCounterTest, ::testing::ValuesIn(AllGpCases()), [](const auto& info) {
  return absl::StrCat("N", info.param.counters, info.param.fw_writes ? "FwWrites" : "Legacy");
});

TEST(VirtualPmuTest, FullWidthNeedsPdcm) {
  FakeClock clock;
  VirtualPmuShape s = Shape(2);
  s.perf_capabilities = kPerfCapFwWrites;  // without PDCM KVM sees no PERF_CAPABILITIES
  VirtualPmu pmu(s, 1, &clock);
  EXPECT_FALSE(pmu.Write(0, kMsrFullPmc0, 1));
}

TEST(VirtualPmuTest, EventSelectReservedBits) {
  FakeClock clock;
  VirtualPmu basic(Shape(2), 1, &clock);
  EXPECT_TRUE(basic.Write(0, kMsrEventSel0, kCyclesEvent | kEvtSelInt | 0xff000000));  // CMASK is fine
  EXPECT_FALSE(basic.Write(0, kMsrEventSel0, kEvtSelAnyThread));
  EXPECT_FALSE(basic.Write(0, kMsrEventSel0, uint64_t{1} << 32));
  EXPECT_FALSE(basic.Write(0, kMsrEventSel0, kEvtSelAdaptive));
  EXPECT_EQ(basic.Read(0, kMsrEventSel0), kCyclesEvent | kEvtSelInt | 0xff000000);
  VirtualPmuShape s = Shape(2);
  s.pebs = PebsKind::kAdaptive;
  VirtualPmu adaptive(s, 1, &clock);
  EXPECT_TRUE(adaptive.Write(0, kMsrEventSel0, kEvtSelAdaptive));
}

// ---- counting ----

TEST(VirtualPmuTest, GpCountersCountCoreAndReferenceCycles) {
  FakeClock clock;
  VirtualPmu pmu(Shape(2, 4, 3), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 1, kRefEvent));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 2, kEvtSelEnable | kEvtSelOs | 0xc0));  // instructions: not countable
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 3, kEventCoreCycles | kEvtSelOs));      // not enabled
  clock.Advance(0, 100, 7);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 100u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 1), 7u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 2), 0u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 3), 0u);
  EXPECT_EQ(pmu.Rdpmc(0, 0), 100u);

  // A write sets the base; counting goes on from it.
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 50));
  clock.Advance(0, 10, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 60u);

  // Disabling stops it; enabling resumes from the value it stopped at.
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent & ~kEvtSelEnable));
  clock.Advance(0, 1000, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 60u);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  clock.Advance(0, 5, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 65u);

  // GLOBAL_CTRL gates from version 2 on.
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalCtrl, 0));
  clock.Advance(0, 5, 5);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 65u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 1), 7u);
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalCtrl, 1));
  clock.Advance(0, 5, 5);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 70u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 1), 7u);

  // Neither OS nor USR: no count.
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kEvtSelEnable | kEventCoreCycles));
  clock.Advance(0, 5, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 70u);
}

TEST(VirtualPmuTest, VersionOneHasNoGlobalGateAndUnavailableEventsDoNotCount) {
  FakeClock clock;
  VirtualPmuShape s = Shape(1, 2, 0);
  s.unavailable_events = kEbxRefCycles;
  VirtualPmu pmu(s, 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 1, kRefEvent));
  clock.Advance(0, 30, 30);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 30u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 1), 0u);
}

TEST(VirtualPmuTest, FixedCountersCountCyclesAndReferenceCyclesOnly) {
  FakeClock clock;
  VirtualPmu pmu(Shape(5, 2, 4), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, 0x2222));  // USR on all four
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalCtrl, uint64_t{0xf} << kFixedIdxBase));
  clock.Advance(0, 40, 9);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0), 0u);  // instructions retired
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 1), 40u);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 2), 9u);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 3), 0u);  // topdown slots
  EXPECT_EQ(pmu.Rdpmc(0, kRdpmcFixed | 1), 40u);
  // Clearing the field stops the counter; so does clearing its global bit.
  ASSERT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, FixedCtrlField(kFixedUser, 1)));
  clock.Advance(0, 10, 10);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 1), 50u);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 2), 9u);
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalCtrl, 0));
  clock.Advance(0, 10, 10);
  EXPECT_EQ(pmu.Read(0, kMsrFixedCtr0 + 1), 50u);
}

TEST(VirtualPmuTest, OverflowSetsStatusAndPmiOnlyWithInt) {
  FakeClock clock;
  VirtualPmu pmu(Shape(2, 2, 3), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));  // -1: 0xffff'ffffffff
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), kMask48);
  clock.Advance(0, 3, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 2u);
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1u);
  EXPECT_FALSE(pmu.TakePmi(0));

  // With INT: the PMI is reported once, found lazily by TakePmi.
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalOvfCtrl, 1));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 0u);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 1, kRefEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0 + 1, 0xfffffff0));
  clock.Advance(0, 0, 0x20);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_FALSE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 2u);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0 + 1), 0x10u);

  // A fixed counter with its PMI bit.
  ASSERT_TRUE(pmu.Write(0, kMsrFixedCtr0 + 1, kMask48));
  ASSERT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, FixedCtrlField(kFixedKernel | kFixedPmi, 1)));
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalCtrl, uint64_t{1} << 33));
  clock.Advance(0, 1, 0);
  EXPECT_TRUE(pmu.TakePmi(0));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 2u | (uint64_t{1} << 33));

  // GLOBAL_STATUS is read-only; OVF_CTRL reads 0 and its reserved bits #GP
  // (OVF_BUF and COND_CHGD never are, as in KVM).
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalStatus, 0));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalOvfCtrl), 0u);
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalOvfCtrl, uint64_t{1} << 40));
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalOvfCtrl, kStatusLbrFrz));  // v4 only
  EXPECT_TRUE(pmu.Write(0, kMsrGlobalOvfCtrl, kStatusOvfBuf | kStatusCondChgd | 2 | (uint64_t{1} << 33)));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 0u);
}

TEST(VirtualPmuTest, StatusSetResetAndCounterFreeze) {
  FakeClock clock;
  VirtualPmu pmu(Shape(4, 2, 3), 1, &clock);
  EXPECT_TRUE(pmu.Write(0, kMsrGlobalStatusSet, 1 | (uint64_t{1} << 34)));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), 1 | (uint64_t{1} << 34));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatusSet), 0u);
  EXPECT_FALSE(pmu.TakePmi(0));                                        // setting status bits raises no PMI
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalStatusSet, uint64_t{1} << 2));   // GP counter 2 does not exist
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalStatusSet, uint64_t{1} << 35));  // nor fixed counter 3
  EXPECT_TRUE(pmu.Write(0, kMsrGlobalOvfCtrl, 1));                     // STATUS_RESET
  EXPECT_EQ(pmu.Read(0, kMsrGlobalStatus), uint64_t{1} << 34);

  // CTR_FRZ freezes every counter until it is reset.
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  clock.Advance(0, 10, 0);
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalStatusSet, kStatusCtrFrz));
  clock.Advance(0, 10, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 10u);
  ASSERT_TRUE(pmu.Write(0, kMsrGlobalOvfCtrl, kStatusCtrFrz));
  clock.Advance(0, 10, 0);
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 20u);
}

TEST(VirtualPmuTest, GlobalInuse) {
  FakeClock clock;
  VirtualPmu pmu(Shape(5, 4, 3), 1, &clock);
  EXPECT_EQ(pmu.Read(0, kMsrGlobalInuse), 0u);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 2, kEventCoreCycles));  // an event select, not even enabled
  EXPECT_EQ(pmu.Read(0, kMsrGlobalInuse), 0x4u);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 1, kEvtSelInt));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalInuse), 0x4u | kInusePmi);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0 + 1, 0));
  ASSERT_TRUE(pmu.Write(0, kMsrFixedCtrCtrl, FixedCtrlField(kFixedUser, 1) | FixedCtrlField(kFixedPmi, 2)));
  EXPECT_EQ(pmu.Read(0, kMsrGlobalInuse), 0x4u | (uint64_t{1} << 33) | kInusePmi);
  EXPECT_FALSE(pmu.Write(0, kMsrGlobalInuse, 0));
}

// ---- PERF_CAPABILITIES ----

TEST(VirtualPmuTest, PerfCapabilitiesReadableWithPdcmNeverWritable) {
  FakeClock clock;
  VirtualPmuShape s = Shape(2);
  s.perf_capabilities = 0x2005;
  VirtualPmu without(s, 1, &clock);
  EXPECT_FALSE(without.Read(0, kMsrPerfCaps).has_value());
  EXPECT_FALSE(without.Write(0, kMsrPerfCaps, 0x2005));
  s.pdcm = true;
  VirtualPmu with(s, 1, &clock);
  EXPECT_EQ(with.Read(0, kMsrPerfCaps), 0x2005u);
  EXPECT_FALSE(with.Write(0, kMsrPerfCaps, 0x2005));
  EXPECT_FALSE(with.Write(0, kMsrPerfCaps, 0));
  s.pdcm = true;
  s.perf_capabilities = 0;
  VirtualPmu zero(s, 1, &clock);
  EXPECT_EQ(zero.Read(0, kMsrPerfCaps), 0u);
}

// ---- RDPMC ----

TEST(VirtualPmuTest, RdpmcIndexing) {
  FakeClock clock;
  VirtualPmuShape s = Shape(2, 3, 2);
  s.gp_counter_width = 40;
  VirtualPmu pmu(s, 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0 + 2, 0x80000001));
  EXPECT_EQ(pmu.Rdpmc(0, 2), 0xff80000001u);  // sign-extended, 40 bits
  EXPECT_FALSE(pmu.Rdpmc(0, 3).has_value());
  EXPECT_FALSE(pmu.Rdpmc(0, 0x10000).has_value());  // an unknown type
  EXPECT_FALSE(pmu.Rdpmc(0, kRdpmcFast).has_value());
  EXPECT_EQ(pmu.Rdpmc(0, kRdpmcFixed | 1), 0u);
  EXPECT_FALSE(pmu.Rdpmc(0, kRdpmcFixed | 2).has_value());
  EXPECT_FALSE(pmu.Rdpmc(0, kRdpmcFixed | kRdpmcFast | 1).has_value());
  EXPECT_FALSE(pmu.Rdpmc(1, 0).has_value());  // no such vCPU
}

// ---- MSR ranges ----

TEST(VirtualPmuTest, MsrRangesCoverEveryPmuMsrAndAreSorted) {
  FakeClock clock;
  VirtualPmu pmu(Shape(0), 1, &clock);
  const auto ranges = pmu.MsrRanges();
  ASSERT_FALSE(ranges.empty());
  for (size_t i = 1; i < ranges.size(); ++i) {
    EXPECT_LE(uint64_t{ranges[i - 1].first} + ranges[i - 1].second, ranges[i].first);
  }
  auto covered = [&](uint32_t index) {
    return std::any_of(ranges.begin(), ranges.end(),
                       [&](const auto& r) { return index >= r.first && index - r.first < r.second; });
  };
  for (uint32_t index :
       {kMsrPerfCtr0,        kMsrPerfCtr0 + 7,     kMsrEventSel0 + 7, kMsrFullPmc0 + 7, kMsrFixedCtr0 + 3,
        kMsrPerfCaps,        kMsrFixedCtrCtrl,     kMsrGlobalStatus,  kMsrGlobalCtrl,   kMsrGlobalOvfCtrl,
        kMsrGlobalStatusSet, kMsrGlobalInuse,      kMsrPebsEnable,    kMsrPebsDataCfg,  kMsrPebsLdLat,
        kMsrDsArea,          kMsrLbrSelect,        kMsrLbrTos,        kMsrDebugCtl,     kMsrLbrFrom0 + 31,
        kMsrLbrTo0 + 31,     kMsrLbrInfo0 + 31,    kMsrArchLbrCtl,    kMsrArchLbrDepth, kMsrArchLbrFrom0 + 63,
        kMsrArchLbrTo0 + 63, kMsrArchLbrInfo0 + 63}) {
    EXPECT_TRUE(covered(index)) << std::hex << index;
  }
  EXPECT_FALSE(covered(0x10));
  EXPECT_FALSE(covered(0x1b));
}

// ---- Save / Restore ----

TEST(VirtualPmuTest, SaveRestoreRoundTrip) {
  FakeClock clock(2);
  VirtualPmuShape s = LegacyLbrShape(5, 32, kLbrFormatInfo | kPerfCapFwWrites);
  s.pebs = PebsKind::kAdaptive;
  VirtualPmu pmu(s, 2, &clock);
  EXPECT_TRUE(pmu.Save(0).empty());
  ASSERT_TRUE(pmu.Write(1, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
  ASSERT_TRUE(pmu.Write(1, kMsrFullPmc0 + 3, 0xabcdef));
  ASSERT_TRUE(pmu.Write(1, kMsrFixedCtrCtrl, 0x020));
  ASSERT_TRUE(pmu.Write(1, kMsrGlobalCtrl, 0x1 | (uint64_t{1} << 33)));
  ASSERT_TRUE(pmu.Write(1, kMsrGlobalStatusSet, 0x8));
  ASSERT_TRUE(pmu.Write(1, kMsrDebugCtl, kDebugCtlLbr));
  ASSERT_TRUE(pmu.Write(1, kMsrLbrFrom0 + 4, 0x4444));
  ASSERT_TRUE(pmu.Write(1, kMsrLbrInfo0 + 9, 0x9999));
  ASSERT_TRUE(pmu.Write(1, kMsrDsArea, 0x5000));
  ASSERT_TRUE(pmu.Write(1, kMsrPebsDataCfg, 0x1));
  clock.Advance(1, 100, 0);
  const auto saved = pmu.Save(1);
  EXPECT_EQ(saved.at(kMsrPerfCtr0), 100u);
  EXPECT_EQ(saved.at(kMsrPerfCtr0 + 3), 0xabcdefu);
  EXPECT_EQ(saved.at(kMsrFixedCtr0 + 1), 100u);
  EXPECT_EQ(saved.at(kMsrGlobalStatus), 0x8u);
  EXPECT_EQ(saved.at(kMsrLbrInfo0 + 9), 0x9999u);
  EXPECT_EQ(saved.count(kMsrEventSel0 + 1), 0u);  // at reset: not saved
  EXPECT_TRUE(pmu.Save(0).empty());               // vCPUs are independent

  FakeClock other(2);
  other.Advance(0, 5000, 5000);  // a different host: its clock is elsewhere
  VirtualPmu restored(s, 2, &other);
  restored.Restore(0, saved);
  EXPECT_EQ(restored.Save(0), saved);
  other.Advance(0, 10, 0);
  EXPECT_EQ(restored.Read(0, kMsrPerfCtr0), 110u);  // keeps counting from the restored value
  EXPECT_EQ(restored.Read(0, kMsrFixedCtr0 + 1), 110u);
  EXPECT_EQ(restored.Read(0, kMsrDebugCtl), kDebugCtlLbr);

  // Restore is host-initiated: GLOBAL_STATUS may be set, no sign extension
  // through the legacy index; a restore starts from reset.
  restored.Restore(0, {{kMsrGlobalStatus, 0x3}, {kMsrPerfCtr0, 0x80000000}, {0x10, 1}});
  EXPECT_EQ(restored.Read(0, kMsrGlobalStatus), 0x3u);
  EXPECT_EQ(restored.Read(0, kMsrPerfCtr0), 0x80000000u);
  EXPECT_EQ(restored.Read(0, kMsrLbrFrom0 + 4), 0u);
  EXPECT_EQ(restored.Read(0, kMsrGlobalCtrl), 0xfu);
}

TEST(VirtualPmuTest, SaveIncludesAnOverflowNotYetSeen) {
  FakeClock clock;
  VirtualPmu pmu(Shape(2, 2, 0), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrEventSel0, kCyclesEvent));
  ASSERT_TRUE(pmu.Write(0, kMsrPerfCtr0, 0xffffffff));
  clock.Advance(0, 2, 0);
  const auto saved = pmu.Save(0);
  EXPECT_EQ(saved.at(kMsrPerfCtr0), 1u);
  EXPECT_EQ(saved.at(kMsrGlobalStatus), 1u);
}

TEST(VirtualPmuTest, ArchLbrSaveRestore) {
  FakeClock clock;
  VirtualPmu pmu(ArchLbrShape(0x8), 1, &clock);
  ASSERT_TRUE(pmu.Write(0, kMsrArchLbrCtl, 0x7));
  ASSERT_TRUE(pmu.Write(0, kMsrArchLbrInfo0 + 31, 0x31));
  const auto saved = pmu.Save(0);
  EXPECT_EQ(saved.count(kMsrArchLbrDepth), 0u);  // at its reset value, the maximum
  VirtualPmu restored(ArchLbrShape(0x8), 1, &clock);
  restored.Restore(0, saved);
  EXPECT_EQ(restored.Read(0, kMsrArchLbrInfo0 + 31), 0x31u);
  EXPECT_EQ(restored.Read(0, kMsrArchLbrCtl), 0x7u);
}

// ---- vCPUs ----

TEST(VirtualPmuTest, VcpusCountIndependentlyOnTheirOwnThreads) {
  FakeClock clock(2);
  VirtualPmu pmu(Shape(2, 2, 3), 2, &clock);
  auto run = [&](uint32_t vcpu, uint64_t step) {
    ASSERT_TRUE(pmu.Write(vcpu, kMsrEventSel0, kCyclesEvent | kEvtSelInt));
    for (int i = 0; i < 1000; ++i) {
      clock.Advance(vcpu, step, step);
      ASSERT_TRUE(pmu.Read(vcpu, kMsrPerfCtr0).has_value());
      pmu.TakePmi(vcpu);
    }
  };
  std::thread a(run, 0, 1), b(run, 1, 3);
  a.join();
  b.join();
  EXPECT_EQ(pmu.Read(0, kMsrPerfCtr0), 1000u);
  EXPECT_EQ(pmu.Read(1, kMsrPerfCtr0), 3000u);
  EXPECT_FALSE(pmu.Read(2, kMsrPerfCtr0).has_value());
  EXPECT_FALSE(pmu.Write(2, kMsrPerfCtr0, 0));
}

}  // namespace
}  // namespace vmd::pmu

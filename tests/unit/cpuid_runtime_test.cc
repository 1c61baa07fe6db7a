// KVM's runtime CPUID bits, per cause (backend/cpu/cpuid_runtime.h).
#include "backend/cpu/cpuid_runtime.h"

#include <gtest/gtest.h>

namespace vmd::cpu {
namespace {

// XSAVE with x87, SSE, AVX (576 + 256) and AVX-512 (opmask at 1088,
// ZMM_Hi256 at 1152, Hi16_ZMM at 1664), XSAVEC in 0xD.1.
CpuidTable Table() {
  return {Leaf(1, 0, 0, 1u << 26, 0), Subleaf(7, 0, 0, 0, 1u << 3, 0), Subleaf(0xd, 0, 0xe7, 0, 0xa80, 0),
          Subleaf(0xd, 1, 0x2, 0, 0, 0),       Subleaf(0xd, 2, 256, 576, 0, 0),
          Subleaf(0xd, 5, 64, 1088, 0, 0),     Subleaf(0xd, 6, 512, 1152, 0, 0),
          Subleaf(0xd, 7, 1024, 1664, 0, 0)};
}

TEST(CpuidRuntimeTest, EachCauseChangesOnlyItsOwnEntries) {
  CpuidRuntime rt(Table(), {.cr4 = 0, .xcr0 = 1, .apic_base = 1u << 11});
  EXPECT_EQ(LookupCpuid(rt.table(), 1, 0).ecx >> 27 & 1, 0u);
  EXPECT_EQ(LookupCpuid(rt.table(), 1, 0).edx >> 9 & 1, 1u);
  EXPECT_EQ(LookupCpuid(rt.table(), 0xd, 0).ebx, 576u);
  const CpuidTable before = rt.table();
  rt.OnCr4((1ull << 18) | (1ull << 22));
  EXPECT_EQ(LookupCpuid(rt.table(), 1, 0).ecx >> 27 & 1, 1u) << "OSXSAVE";
  EXPECT_EQ(LookupCpuid(rt.table(), 7, 0).ecx >> 4 & 1, 1u) << "OSPKE";
  EXPECT_EQ(LookupCpuid(rt.table(), 0xd, 0), LookupCpuid(before, 0xd, 0)) << "CR4 leaves leaf 0xD alone";
  rt.OnXcr0(0xe7, 0);
  EXPECT_EQ(LookupCpuid(rt.table(), 0xd, 0).ebx, 2688u) << "standard layout: the last component's end";
  EXPECT_EQ(LookupCpuid(rt.table(), 0xd, 1).ebx, 576u + 256 + 64 + 512 + 1024) << "compacted";
  rt.OnApicBase(0);
  EXPECT_EQ(LookupCpuid(rt.table(), 1, 0).edx >> 9 & 1, 0u);
  EXPECT_EQ(LookupCpuid(rt.table(), 1, 0).ecx >> 27 & 1, 1u) << "APIC_BASE leaves OSXSAVE alone";
}

TEST(CpuidRuntimeTest, RecomputeEqualsEveryCauseInTurn) {
  const CpuidCauses causes{.cr4 = 1ull << 18, .xcr0 = 0x7, .apic_base = 1u << 11};
  CpuidRuntime whole(Table(), {});
  whole.Recompute(causes);
  CpuidRuntime stepwise(Table(), {});
  stepwise.OnCr4(causes.cr4);
  stepwise.OnXcr0(causes.xcr0, causes.xss);
  stepwise.OnApicBase(causes.apic_base);
  EXPECT_EQ(whole.table(), stepwise.table());
  EXPECT_EQ(XstateSize(Table(), 0x7, false), 832u);
  EXPECT_EQ(XstateSize(Table(), 0x3, false), 576u) << "x87 and SSE live in the legacy area";
}

}  // namespace
}  // namespace vmd::cpu

// The backend-neutral CPU model: CPUID tables, the per-vCPU builder both
// backends use, KVM's lookup rules, and the typed host profiles.
#include "backend/cpu/cpuid_builder.h"

#include <gtest/gtest.h>

#include "backend/cpu/cpuid.h"
#include "backend/cpu/host_profiles.h"

namespace vmd::cpu {
namespace {

// A small AMD-like supported table: vendor "AuthenticAMD", max leaf 0xd.
CpuidTable FakeAmdCpuid() {
  const VendorRegisters amd = CpuidVendorRegisters(CpuVendor::kAmd);
  return {
      Leaf(0, 0xd, amd.ebx, amd.ecx, amd.edx),
      Leaf(1, 0x00a00f11, 0x00000800, 0x0, 0x178bfbff),
      Leaf(0x80000001, 0, 0, 0x0, 0),
      Leaf(0x80000008, 0x3030, 0, 0x0000ffff, 0),
      Leaf(0x8000001e, 7, 7, 7, 0),
  };
}

CpuidTable FakeIntelCpuid() {
  const VendorRegisters intel = CpuidVendorRegisters(CpuVendor::kIntel);
  return {
      Leaf(0, 0xd, intel.ebx, intel.ecx, intel.edx),
      Leaf(1, 0x000606a6, 0x00000800, 0x0, 0x178bfbff),
      Subleaf(7, 0, 0, 0, 0, 0),
      Leaf(0xd, 0xaa, 0xbb, 0xcc, 0xdd),
      Leaf(0x40000000, 0x40000001, 0, 0, 0),
      Leaf(0x80000000, 0x80000008, 0, 0, 0),
  };
}

TEST(CpuidBuilderTest, Leaf1HasTheApicIdCountAndFeatureBits) {
  CpuidTable cpuid = BuildVcpuCpuid(FakeAmdCpuid(), {.vcpu_id = 3, .vcpus = 4});
  const CpuidEntry* leaf1 = FindCpuid(cpuid, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ebx >> 24, 3u);           // initial APIC id
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 4u);  // logical processors
  EXPECT_EQ(leaf1->ebx & 0xffff, 0x0800u);   // CLFLUSH size kept
  EXPECT_NE(leaf1->ecx & (1u << 21), 0u);    // x2APIC
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u);    // hypervisor
  EXPECT_NE(leaf1->edx & (1u << 28), 0u);    // HTT with > 1 logical processor

  CpuidTable single = BuildVcpuCpuid(FakeAmdCpuid(), {.vcpu_id = 0, .vcpus = 1});
  EXPECT_EQ(FindCpuid(single, 1)->edx & (1u << 28), 0u);
}

TEST(CpuidBuilderTest, ExtendedTopologyDescribesOneCorePerVcpu) {
  CpuidTable cpuid = BuildVcpuCpuid(FakeAmdCpuid(), {.vcpu_id = 5, .vcpus = 6});
  EXPECT_GE(FindCpuid(cpuid, 0)->eax, 0xbu);  // max basic leaf raised to 0xB
  const CpuidEntry* smt = FindCpuid(cpuid, 0xb, 0);
  const CpuidEntry* core = FindCpuid(cpuid, 0xb, 1);
  const CpuidEntry* end = FindCpuid(cpuid, 0xb, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_TRUE(smt->significant_index);
  EXPECT_EQ(smt->eax, 0u);
  EXPECT_EQ(smt->ebx, 1u);
  EXPECT_EQ(smt->ecx, 0x100u);  // level 0, type SMT
  EXPECT_EQ(smt->edx, 5u);      // x2APIC id
  EXPECT_EQ(core->eax, 3u);     // 6 cores need 3 id bits
  EXPECT_EQ(core->ebx, 6u);
  EXPECT_EQ(core->ecx, 0x201u);  // level 1, type core
  EXPECT_EQ(core->edx, 5u);
  EXPECT_EQ(end->ebx, 0u);
  EXPECT_EQ((end->ecx >> 8) & 0xff, 0u);  // invalid level ends the list
  EXPECT_EQ(FindCpuid(cpuid, 0x1f), nullptr) << "0x1f only when the base has it";
}

TEST(CpuidBuilderTest, AmdLeavesCarryTheCoreCount) {
  CpuidTable cpuid = BuildVcpuCpuid(FakeAmdCpuid(), {.vcpu_id = 2, .vcpus = 4});
  EXPECT_NE(FindCpuid(cpuid, 0x80000001)->ecx & (1u << 1), 0u);  // CmpLegacy
  const CpuidEntry* ext8 = FindCpuid(cpuid, 0x80000008);
  EXPECT_EQ(ext8->ecx & 0xff, 3u);         // cores - 1
  EXPECT_EQ((ext8->ecx >> 12) & 0xf, 2u);  // APIC id bits for 4 cores
  EXPECT_EQ(ext8->ecx & 0xf00u, 0xf00u);   // other bits kept
  const CpuidEntry* ext1e = FindCpuid(cpuid, 0x8000001e);
  EXPECT_EQ(ext1e->eax, 2u);
  EXPECT_EQ(ext1e->ebx, 2u);
  EXPECT_EQ(ext1e->ecx, 0u);
}

TEST(CpuidBuilderTest, PmuLeavesFollowTheArchitecturalLayout) {
  GuestPmuLeaves pmu{.version = 5, .gp_counters = 8, .gp_counter_width = 48, .event_mask_length = 8,
                     .unavailable_events = 0x4, .fixed_counter_bitmap = 0xb, .fixed_counters = 3,
                     .fixed_counter_width = 48, .pdcm = true, .arch_lbr_depth_bitmap = 0x0f,
                     .arch_lbr_ebx = 0x7, .arch_lbr_ecx = 0x7};
  CpuidTable cpuid = BuildVcpuCpuid(FakeIntelCpuid(), {.vcpu_id = 0, .vcpus = 1}, {.pmu = pmu});
  const CpuidEntry* leaf_a = FindCpuid(cpuid, 0xa);
  ASSERT_NE(leaf_a, nullptr);
  EXPECT_EQ(leaf_a->eax, 5u | (8u << 8) | (48u << 16) | (8u << 24));
  EXPECT_EQ(leaf_a->ebx, 0x4u);
  EXPECT_EQ(leaf_a->ecx, 0xbu);  // the v5 fixed-counter bitmap
  EXPECT_EQ(leaf_a->edx, 3u | (48u << 5));
  EXPECT_NE(FindCpuid(cpuid, 1)->ecx & (1u << 15), 0u);  // PDCM
  const CpuidEntry* leaf_1c = FindCpuid(cpuid, 0x1c, 0);
  ASSERT_NE(leaf_1c, nullptr);
  EXPECT_EQ(leaf_1c->eax, 0x0fu);
  EXPECT_NE(FindCpuid(cpuid, 7, 0)->edx & (1u << 19), 0u);  // Arch LBR
  EXPECT_GE(FindCpuid(cpuid, 0)->eax, 0x1cu);

  // Before version 5 there is no bitmap; without Arch LBR no 0x1C.
  pmu.version = 4;
  pmu.arch_lbr_depth_bitmap = 0;
  cpuid = BuildVcpuCpuid(FakeIntelCpuid(), {.vcpu_id = 0, .vcpus = 1}, {.pmu = pmu});
  EXPECT_EQ(FindCpuid(cpuid, 0xa)->ecx, 0u);
  EXPECT_EQ(FindCpuid(cpuid, 0x1c, 0), nullptr);
  EXPECT_EQ(FindCpuid(cpuid, 7, 0)->edx & (1u << 19), 0u);
}

TEST(CpuidLookupTest, OutOfRangeLeavesFollowKvm) {
  // Intel: above its class's maximum, the maximum basic leaf (0xd) answers.
  CpuidTable intel = FakeIntelCpuid();
  EXPECT_EQ(LookupCpuid(intel, 0x20, 0).eax, 0xaau);
  EXPECT_EQ(LookupCpuid(intel, 0x80000009, 0).eax, 0xaau);
  EXPECT_EQ(LookupCpuid(intel, 0x40000005, 0).eax, 0xaau);
  // A leaf missing inside the range reads as zeros.
  EXPECT_EQ(LookupCpuid(intel, 0x5, 0).eax, 0u);
  // AMD: zeros.
  EXPECT_EQ(LookupCpuid(FakeAmdCpuid(), 0x20, 0).eax, 0u);
  EXPECT_EQ(VendorOf(intel), CpuVendor::kIntel);
  EXPECT_EQ(VendorOf(FakeAmdCpuid()), CpuVendor::kAmd);
}

TEST(HostProfilesTest, AreTypedAndSelfConsistent) {
  EXPECT_EQ(CpuidSignature(6, 0x6a, 6), 0x000606a6u);
  EXPECT_EQ(CpuidSignature(0x19, 0x11, 1), 0x00a10f11u);
  for (const HostProfile& p : HostProfiles()) {
    SCOPED_TRACE(std::string(p.name));
    EXPECT_EQ(FindHostProfile(p.name), &p);
    EXPECT_GT(p.tsc_khz, 0u);
    // A kernel gives at most what the hardware has.
    EXPECT_LE(p.kernel_vpmu_version, std::max(p.pmu.version, 5u));
    if (p.pmu.version == 0) {
      EXPECT_EQ(p.kernel_vpmu_version, 0u);
    }
    // PERF_CAPABILITIES agrees with the PMU fields it encodes.
    if (p.vendor == CpuVendor::kIntel) {
      EXPECT_EQ(p.pmu.perf_capabilities & 0x3f, p.pmu.lbr_format);
      EXPECT_EQ((p.pmu.perf_capabilities >> 8) & 0xf, p.pmu.pebs_format);
      EXPECT_EQ((p.pmu.perf_capabilities >> 14) & 1, p.pmu.pebs_baseline ? 1u : 0u);
    }
  }
  EXPECT_EQ(FindHostProfile("no-such-cpu"), nullptr);
  EXPECT_EQ(ParseCpuVendor(CpuVendorName(CpuVendor::kAmd)), CpuVendor::kAmd);
}

}  // namespace
}  // namespace vmd::cpu

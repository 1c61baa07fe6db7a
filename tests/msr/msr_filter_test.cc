// KvmAllows() against the kernel's kvm_msr_allowed() and
// kvm_vm_ioctl_set_msr_filter() (arch/x86/kvm/x86.c), case by case.
#include "backend/msr/msr_filter.h"

#include <vector>

#include "gtest/gtest.h"

namespace vmd::msr {
namespace {

// A range whose bitmap has `allowed` bits set (offsets from base).
MsrFilterRange Range(uint32_t flags, uint32_t base, uint32_t nmsrs, std::vector<uint32_t> allowed = {}) {
  MsrFilterRange r{flags, base, nmsrs, std::vector<uint8_t>(MsrFilterBitmapBytes(nmsrs), 0)};
  for (uint32_t bit : allowed) r.bitmap[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
  return r;
}

TEST(MsrFilterTest, BitmapBytesAreWholeLongs) {
  EXPECT_EQ(MsrFilterBitmapBytes(0), 0u);
  EXPECT_EQ(MsrFilterBitmapBytes(1), 8u);
  EXPECT_EQ(MsrFilterBitmapBytes(64), 8u);
  EXPECT_EQ(MsrFilterBitmapBytes(65), 16u);
  EXPECT_EQ(MsrFilterBitmapBytes(kMsrFilterMaxRangeMsrs), kMsrFilterMaxBitmapBytes);
  EXPECT_EQ(kMsrFilterMaxRangeMsrs, 12288u);
}

TEST(MsrFilterTest, NoRangesMeansFilteringOff) {
  MsrFilter allow;
  EXPECT_TRUE(KvmAllows(allow, 0x10, false));
  // DEFAULT_DENY without ranges: KVM refuses it (EINVAL), nothing filtered.
  MsrFilter deny{.default_deny = true};
  EXPECT_TRUE(KvmAllows(deny, 0x10, false));
  EXPECT_TRUE(KvmAllows(deny, 0xc0000080, true));
  EXPECT_FALSE(ValidateMsrFilter(deny).ok());
  // Empty ranges (nmsrs 0) are skipped: still no filter.
  deny.ranges.push_back(Range(kMsrFilterReadWrite, 0x10, 0));
  EXPECT_TRUE(KvmAllows(deny, 0x10, false));
  EXPECT_FALSE(ValidateMsrFilter(deny).ok());
}

TEST(MsrFilterTest, DefaultDecidesWhatNoRangeMatches) {
  MsrFilter f{.default_deny = true, .ranges = {Range(kMsrFilterReadWrite, 0x10, 1, {0})}};
  EXPECT_TRUE(KvmAllows(f, 0x10, false));
  EXPECT_TRUE(KvmAllows(f, 0x10, true));
  EXPECT_FALSE(KvmAllows(f, 0x11, false));
  EXPECT_FALSE(KvmAllows(f, 0xf, true));
  f.default_deny = false;
  f.ranges[0] = Range(kMsrFilterReadWrite, 0x10, 1);
  EXPECT_FALSE(KvmAllows(f, 0x10, false));
  EXPECT_TRUE(KvmAllows(f, 0x11, false));
}

TEST(MsrFilterTest, X2apicAlwaysAllowed) {
  // A deny-all range over the x2APIC MSRs, and DEFAULT_DENY: still allowed.
  MsrFilter f{.default_deny = true, .ranges = {Range(kMsrFilterReadWrite, 0x700, 0x300)}};
  for (uint32_t m : {0x800u, 0x802u, 0x830u, 0x8ffu}) {
    EXPECT_TRUE(KvmAllows(f, m, false)) << m;
    EXPECT_TRUE(KvmAllows(f, m, true)) << m;
  }
  EXPECT_FALSE(KvmAllows(f, 0x7ff, false));
  EXPECT_FALSE(KvmAllows(f, 0x900, true));
}

TEST(MsrFilterTest, RangeOnlyMatchesItsDirections) {
  // As the kernel selftest's filter_fs: a READ range denies FS_BASE reads;
  // writes match no range and take the default.
  MsrFilter f{.ranges = {Range(kMsrFilterRead, 0xc0000100, 1)}};
  EXPECT_FALSE(KvmAllows(f, 0xc0000100, false));
  EXPECT_TRUE(KvmAllows(f, 0xc0000100, true));
  f.default_deny = true;
  EXPECT_FALSE(KvmAllows(f, 0xc0000100, true));
}

TEST(MsrFilterTest, FirstMatchingRangeDecides) {
  MsrFilter f{.ranges = {
                  Range(kMsrFilterWrite, 0x100, 16, {}),              // denies writes
                  Range(kMsrFilterReadWrite, 0x100, 32, {0, 1, 20}),  // allows 0x100, 0x101, 0x114
                  Range(kMsrFilterReadWrite, 0x100, 64, {}),
              }};
  EXPECT_TRUE(KvmAllows(f, 0x100, false));   // second range
  EXPECT_FALSE(KvmAllows(f, 0x100, true));   // first range
  EXPECT_FALSE(KvmAllows(f, 0x102, false));  // second range, bit 0
  EXPECT_TRUE(KvmAllows(f, 0x114, true));    // past the first range: second
  EXPECT_FALSE(KvmAllows(f, 0x130, true));   // third range
  EXPECT_TRUE(KvmAllows(f, 0x140, true));    // none: default allow
}

TEST(MsrFilterTest, BitmapLayoutIsBitIModEightOfByteIDivEight) {
  MsrFilterRange r = Range(kMsrFilterReadWrite, 0x1000, 64);
  r.bitmap[1] = 0x04;  // MSR 0x1000 + 8 + 2
  MsrFilter f{.ranges = {r}};
  for (uint32_t i = 0; i < 64; ++i) EXPECT_EQ(KvmAllows(f, 0x1000 + i, false), i == 10) << i;
}

TEST(MsrFilterTest, RangeEndIsComputedInThirtyTwoBits) {
  // base + nmsrs wraps to 0x100: the kernel's `index < end` never holds.
  MsrFilter f{.ranges = {Range(kMsrFilterReadWrite, 0xffffff00, 0x200)}};
  EXPECT_TRUE(KvmAllows(f, 0xffffff00, false));
  EXPECT_TRUE(KvmAllows(f, 0xffffffff, true));
  // Even a one-MSR range at 0xffffffff: end wraps to 0.
  f.ranges[0] = Range(kMsrFilterReadWrite, 0xffffffff, 1);
  EXPECT_TRUE(KvmAllows(f, 0xffffffff, false));
  f.ranges[0] = Range(kMsrFilterReadWrite, 0xfffffffe, 1);
  EXPECT_FALSE(KvmAllows(f, 0xfffffffe, false));
}

TEST(MsrFilterTest, ValidateMirrorsTheIoctlChecks) {
  MsrFilter ok{.default_deny = true, .ranges = {Range(kMsrFilterRead, 0, 1)}, .exit_reasons = kMsrExitReasonFilter};
  EXPECT_TRUE(ValidateMsrFilter(ok).ok());

  MsrFilter too_many;
  for (int i = 0; i < 17; ++i) too_many.ranges.push_back(Range(kMsrFilterRead, i * 100, 1));
  EXPECT_FALSE(ValidateMsrFilter(too_many).ok());

  MsrFilter no_flags{.ranges = {Range(0, 0, 1)}};
  EXPECT_FALSE(ValidateMsrFilter(no_flags).ok());
  MsrFilter bad_flags{.ranges = {Range(4 | kMsrFilterRead, 0, 1)}};
  EXPECT_FALSE(ValidateMsrFilter(bad_flags).ok());

  MsrFilter too_big{.ranges = {Range(kMsrFilterRead, 0, kMsrFilterMaxRangeMsrs + 1)}};
  EXPECT_FALSE(ValidateMsrFilter(too_big).ok());
  MsrFilter biggest{.ranges = {Range(kMsrFilterRead, 0, kMsrFilterMaxRangeMsrs)}};
  EXPECT_TRUE(ValidateMsrFilter(biggest).ok());

  MsrFilter short_bitmap{.ranges = {Range(kMsrFilterRead, 0, 65)}};
  short_bitmap.ranges[0].bitmap.resize(9);
  EXPECT_FALSE(ValidateMsrFilter(short_bitmap).ok());

  MsrFilter bad_reasons{.exit_reasons = 8};
  EXPECT_FALSE(ValidateMsrFilter(bad_reasons).ok());
}

}  // namespace
}  // namespace vmd::msr

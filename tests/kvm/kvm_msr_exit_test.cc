// User-space MSR exits on real KVM: a KVM_X86_SET_MSR_FILTER deny range makes
// the guest's RDMSR exit as kMsrRead; CompleteMsr supplies the value or a #GP.
// The firmware reads IA32_APIC_BASE (0x1b) while it enables x2APIC.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <atomic>
#include <vector>

#include "gtest/gtest.h"
#include "backend/msr/msr_filter.h"
#include "backend/hypervisor/kvm/kvm_vm.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint64_t kBspApicBase = 0xfee00900;  // default base, enabled, BSP

// A range of `n` MSRs from `base` that denies exactly `denied` and allows
// the rest, for reads and/or writes.
msr::MsrFilterRange DenyMsrs(uint32_t base, uint32_t n, std::vector<uint32_t> denied, uint32_t flags) {
  msr::MsrFilterRange range{.flags = flags, .base = base, .nmsrs = n};
  range.bitmap.assign(msr::MsrFilterBitmapBytes(n), 0);
  for (uint32_t i = 0; i < n; ++i) range.bitmap[i / 8] |= static_cast<uint8_t>(1u << (i % 8));
  for (uint32_t index : denied) range.bitmap[(index - base) / 8] &= static_cast<uint8_t>(~(1u << ((index - base) % 8)));
  return range;
}

// Denies guest reads of IA32_APIC_BASE, so they exit to user space.
void DenyApicBaseReads(Vm& vm) {
  msr::MsrFilter filter;
  filter.ranges.push_back(DenyMsrs(kMsrApicBase, 8, {kMsrApicBase}, msr::kMsrFilterRead));
  absl::Status s = vm.SetMsrFilter(filter);
  ASSERT_TRUE(s.ok()) << s;
}

TEST(KvmMsrFilterTest, KvmAcceptsAndClearsFilters) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  msr::MsrFilter deny_all;
  deny_all.default_deny = true;
  deny_all.ranges.push_back(DenyMsrs(0x380, 0x20, {0x38d, 0x38f}, msr::kMsrFilterReadWrite));
  EXPECT_TRUE((*vm)->vm().SetMsrFilter(deny_all).ok());
  EXPECT_TRUE((*vm)->vm().SetMsrFilter(msr::MsrFilter{}).ok());  // off again
}

TEST(KvmMsrExitTest, FilteredRdmsrExitsAndTakesTheCompletedValue) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  DenyApicBaseReads((*vm)->vm());
  std::atomic<int> reads{0};
  (*vm)->set_msr_handler([&](uint32_t, const VcpuExit& exit) {
    EXPECT_EQ(exit.kind, ExitKind::kMsrRead);
    EXPECT_EQ(exit.msr_index, kMsrApicBase);
    reads.fetch_add(1);
    return TestVm::MsrAnswer{kBspApicBase, /*inject_gp=*/false};
  });
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().vcpus_online == 1; }))
      << (*vm)->console();
  EXPECT_GE(reads.load(), 1);
  EXPECT_EQ((*vm)->diag().apic_id_mismatches, 0u);
  // The guest wrote back what it read plus the x2APIC bits, so interrupts work.
  ASSERT_TRUE((*vm)->vm().SignalMsi(FixedMsi(0, VMD_VECTOR_SHUTDOWN)).ok());
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->power_off_code().has_value(); }));
  (*vm)->Stop();
  EXPECT_TRUE((*vm)->crashes().empty());
}

TEST(KvmMsrExitTest, InjectedGpOnAnUnprotectedRdmsrIsAFatalGuestException) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  DenyApicBaseReads((*vm)->vm());
  // The default handler injects #GP. The firmware reads IA32_APIC_BASE
  // without a fix-up, so the #GP is fatal: it reports it and triple-faults.
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return !(*vm)->crashes().empty(); })) << (*vm)->console();
  (*vm)->Stop();
  TestVm::Crash crash = (*vm)->crashes().front();
  EXPECT_EQ(crash.kind, ExitKind::kShutdown) << crash.reason;
  EXPECT_NE((*vm)->console().find("vmd firmware: fatal exception 13 error=0x0 rip=0x"),
            std::string::npos)
      << (*vm)->console();
  vmd_guest_diag diag = (*vm)->diag();
  EXPECT_EQ(diag.last_vector, 13u);
  EXPECT_EQ(diag.exceptions, 1u);  // before the boot self-test
}

}  // namespace
}  // namespace vmd::hv::testing

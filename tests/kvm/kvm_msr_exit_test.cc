// User-space MSR exits on real KVM: a KVM_X86_SET_MSR_FILTER deny range makes
// the guest's RDMSR exit as kMsrRead; CompleteMsr supplies the value or a #GP.
// The firmware reads IA32_APIC_BASE (0x1b) while it enables x2APIC.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <atomic>
#include <vector>

#include "gtest/gtest.h"
#include "backend/hypervisor/kvm/kvm_msr_filter.h"
#include "backend/hypervisor/kvm/kvm_vm.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

constexpr uint32_t kMsrApicBase = 0x1b;
constexpr uint64_t kBspApicBase = 0xfee00900;  // default base, enabled, BSP

// Denies guest reads of IA32_APIC_BASE, so they exit to user space.
void DenyApicBaseReads(Vm& vm) {
  auto* kvm_vm = dynamic_cast<kvm::KvmVm*>(&vm);
  ASSERT_NE(kvm_vm, nullptr);
  kvm::MsrFilter filter;
  const uint32_t denied[] = {kMsrApicBase};
  filter.ranges.push_back(kvm::DenyMsrs(kMsrApicBase, 8, denied, /*read=*/true, /*write=*/false));
  absl::Status s = kvm::SetMsrFilter(kvm_vm->fd(), filter);
  ASSERT_TRUE(s.ok()) << s;
}

TEST(KvmMsrFilterTest, FiltersAreValidatedAgainstKvmRules) {
  kvm::MsrFilter filter;
  filter.default_deny = true;
  EXPECT_EQ(kvm::ValidateMsrFilter(filter).code(), absl::StatusCode::kInvalidArgument);
  filter.default_deny = false;
  EXPECT_TRUE(kvm::ValidateMsrFilter(filter).ok());  // empty: filtering off
  const uint32_t none[] = {0};
  filter.ranges.push_back(kvm::DenyMsrs(0, 16, none, /*read=*/false, /*write=*/false));
  EXPECT_EQ(kvm::ValidateMsrFilter(filter).code(), absl::StatusCode::kInvalidArgument);
  filter.ranges[0] = kvm::DenyMsrs(0, 0x600 * 8 + 1, none, true, true);
  EXPECT_EQ(kvm::ValidateMsrFilter(filter).code(), absl::StatusCode::kInvalidArgument);
  filter.ranges[0] = kvm::DenyMsrs(0, 16, none, true, true);
  EXPECT_TRUE(kvm::ValidateMsrFilter(filter).ok());
  EXPECT_EQ(filter.ranges[0].bitmap, (std::vector<uint8_t>{0xfe, 0xff}));
  filter.ranges.assign(17, filter.ranges[0]);
  EXPECT_EQ(kvm::ValidateMsrFilter(filter).code(), absl::StatusCode::kInvalidArgument);
}

TEST(KvmMsrFilterTest, KvmAcceptsAndClearsFilters) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  auto* kvm_vm = dynamic_cast<kvm::KvmVm*>(&(*vm)->vm());
  ASSERT_NE(kvm_vm, nullptr);
  kvm::MsrFilter deny_all;
  deny_all.default_deny = true;
  const uint32_t pmu[] = {0x38d, 0x38f};
  deny_all.ranges.push_back(kvm::DenyMsrs(0x380, 0x20, pmu, true, true));
  EXPECT_TRUE(kvm::SetMsrFilter(kvm_vm->fd(), deny_all).ok());
  EXPECT_TRUE(kvm::SetMsrFilter(kvm_vm->fd(), kvm::MsrFilter{}).ok());  // off again
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
  ASSERT_TRUE((*vm)->vm().SignalMsi(0, VMD_VECTOR_SHUTDOWN).ok());
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

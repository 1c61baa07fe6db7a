// User-space MSR exits on real KVM: a KVM_X86_SET_MSR_FILTER deny range makes
// the guest's RDMSR exit as kMsrRead; CompleteMsr supplies the value or a #GP.
// The firmware reads IA32_APIC_BASE (0x1b) while it enables x2APIC.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <atomic>

#include "gtest/gtest.h"
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
  static uint8_t deny_one = 0;  // bitmap bit 0 clear: denied
  kvm_msr_filter filter{};
  filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  filter.ranges[0].flags = KVM_MSR_FILTER_READ;
  filter.ranges[0].nmsrs = 1;
  filter.ranges[0].base = kMsrApicBase;
  filter.ranges[0].bitmap = &deny_one;
  ASSERT_EQ(ioctl(kvm_vm->fd(), KVM_X86_SET_MSR_FILTER, &filter), 0) << strerror(errno);
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

// Vcpu::Kick on real KVM: a kick before Run is never lost, and a kick takes a
// running (busy or halted) vCPU out of KVM_RUN promptly.
#include <atomic>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

constexpr int kKicks = 1000;

TEST(KvmKickTest, KickBeforeRunIsNotLost) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_COUNTER));
  ASSERT_TRUE(vm.ok()) << vm.status();
  Vcpu& vcpu = (*vm)->vcpu(0);
  for (int i = 0; i < kKicks; ++i) {
    vcpu.Kick();
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    ASSERT_TRUE(exit.ok()) << exit.status();
    ASSERT_EQ(exit->kind, ExitKind::kInterrupted) << "kick " << i << ": " << ExitKindName(exit->kind);
  }
  // The guest never ran: its boot line was not even started.
  EXPECT_EQ((*vm)->diag().magic, 0u);
}

// Runs the guest on its own thread through TestVm and kicks it from here, one
// kick at a time, waiting for each to show up as a kInterrupted exit.
void KickRepeatedly(uint32_t workload) {
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(workload));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().vcpus_online == 1; }));
  ASSERT_TRUE((*vm)->WaitForConsole("vcpu(s)\n"));
  absl::Duration slowest;
  for (int i = 0; i < kKicks; ++i) {
    uint64_t before = (*vm)->interrupted_exits();
    absl::Time start = absl::Now();
    (*vm)->vcpu(0).Kick();
    ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->interrupted_exits() > before; },
                               absl::Seconds(2)))
        << "kick " << i << " was lost";
    slowest = std::max(slowest, absl::Now() - start);
  }
  std::cout << "slowest of " << kKicks << " kicks: " << slowest << std::endl;
  EXPECT_LT(slowest, absl::Milliseconds(500));
  // Kicks leave the guest undisturbed.
  vmd_guest_diag diag = (*vm)->diag();
  EXPECT_EQ(diag.exceptions, 2u);  // the boot self-test only
  (*vm)->Stop();
  EXPECT_TRUE((*vm)->crashes().empty());
  EXPECT_TRUE((*vm)->errors().empty());
}

TEST(KvmKickTest, KickTakesABusyVcpuOutPromptly) {
  VMD_REQUIRE_KVM();
  KickRepeatedly(VMD_WORKLOAD_COUNTER);  // no heartbeats: no exits of its own
}

TEST(KvmKickTest, KickTakesAHaltedVcpuOutPromptly) {
  VMD_REQUIRE_KVM();
  KickRepeatedly(VMD_WORKLOAD_IDLE);  // HLT inside KVM_RUN
}

// Kicks racing with Run from another thread: every Run ends, none hangs.
TEST(KvmKickTest, ConcurrentKicksNeverHang) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  std::atomic<bool> done{false};
  std::thread kicker([&] {
    while (!done.load()) (*vm)->vcpu(0).Kick();
  });
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->interrupted_exits() >= 10000; }));
  done.store(true);
  kicker.join();
  (*vm)->Stop();
  EXPECT_TRUE((*vm)->crashes().empty());
  EXPECT_TRUE((*vm)->errors().empty());
}

}  // namespace
}  // namespace vmd::hv::testing

// Boots the firmware on real KVM through the hv interface: the idle and
// counter workloads on 1 and 2 vCPUs, the console lines, interrupts and the
// graceful power-off on VMD_VECTOR_SHUTDOWN.
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

std::string BootLine(const char* workload, uint32_t vcpus) {
  return absl::StrCat("vmd firmware: ", workload, " on ", vcpus, " vcpu(s)\n");
}

// Every vCPU finished its setup and the firmware's own checks passed.
void ExpectHealthyBoot(TestVm& vm, uint32_t vcpus) {
  ASSERT_TRUE(vm.WaitFor([&] { return vm.diag().vcpus_online == vcpus; }))
      << "vcpus_online=" << vm.diag().vcpus_online << " console:\n" << vm.console();
  vmd_guest_diag diag = vm.diag();
  EXPECT_EQ(diag.magic, VMD_GUEST_DIAG_MAGIC);
  EXPECT_EQ(diag.apic_id_mismatches, 0u);
  // The boot self-test: a #UD and a #GP, both fixed up; nothing else.
  EXPECT_EQ(diag.fixup_selftest, VMD_FIXUP_SELFTEST_PASSED);
  EXPECT_EQ(diag.exceptions, 2u);
  EXPECT_EQ(diag.last_vector, 13u);
  EXPECT_EQ(diag.last_error_code, 0u);
  EXPECT_EQ(diag.last_vcpu, 0u);
}

void ShutDownGracefully(TestVm& vm) {
  ASSERT_TRUE(vm.vm().SignalMsi(FixedMsi(0, VMD_VECTOR_SHUTDOWN)).ok());
  ASSERT_TRUE(vm.WaitFor([&] { return vm.power_off_code().has_value(); }))
      << "console:\n" << vm.console();
  EXPECT_EQ(*vm.power_off_code(), VMD_POWER_OFF_OK);
  EXPECT_NE(vm.console().find(VMD_CONSOLE_POWER_OFF_LINE), std::string::npos) << vm.console();
  EXPECT_EQ(vm.diag().interrupts[VMD_VECTOR_SHUTDOWN], 1u);
}

void ExpectNoFailures(TestVm& vm) {
  for (const TestVm::Crash& crash : vm.crashes()) {
    ADD_FAILURE() << "vcpu " << crash.vcpu << " crashed: " << crash.reason << "\n"
                  << crash.registers;
  }
  for (const std::string& error : vm.errors()) ADD_FAILURE() << error;
}

class KvmBootTest : public ::testing::TestWithParam<uint32_t> {};

TEST_P(KvmBootTest, IdleBootsAndPowersOffOnShutdownVector) {
  VMD_REQUIRE_KVM();
  const uint32_t vcpus = GetParam();
  absl::StatusOr<std::unique_ptr<TestVm>> vm =
      TestVm::Create(Options(VMD_WORKLOAD_IDLE, vcpus));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitForConsole(BootLine("idle", vcpus))) << (*vm)->console();
  ExpectHealthyBoot(**vm, vcpus);
  ShutDownGracefully(**vm);
  (*vm)->Stop();
  EXPECT_EQ((*vm)->console(), BootLine("idle", vcpus) + VMD_CONSOLE_POWER_OFF_LINE);
  ExpectNoFailures(**vm);
}

TEST_P(KvmBootTest, CounterAdvancesAndHeartbeatsHaveTheExactFormat) {
  VMD_REQUIRE_KVM();
  const uint32_t vcpus = GetParam();
  constexpr uint32_t kHeartbeatMs = 20;
  constexpr int kHeartbeats = 4;
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_COUNTER, vcpus, kHeartbeatMs));
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_GT((*vm)->boot_tsc_khz(), 0u) << "LoadGuest fills boot_info.tsc_khz";
  absl::Time start = absl::Now();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitForConsole(BootLine("counter", vcpus))) << (*vm)->console();
  ExpectHealthyBoot(**vm, vcpus);

  uint64_t first = (*vm)->status().counter;
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->status().counter > first; }));
  ASSERT_TRUE((*vm)->WaitForConsole(absl::StrCat("heartbeat ", kHeartbeats, " counter=")))
      << (*vm)->console();
  ASSERT_TRUE((*vm)->WaitFor([&] {
    std::string console = (*vm)->console();
    return !console.empty() && console.back() == '\n';
  }));
  absl::Duration elapsed = absl::Now() - start;
  // The heartbeats are TSC-timed: 4 of them take at least ~3 periods.
  EXPECT_GE(elapsed, absl::Milliseconds(3 * kHeartbeatMs));
  vmd_guest_status status = (*vm)->status();
  EXPECT_GE(status.heartbeats, uint64_t{kHeartbeats});
  ShutDownGracefully(**vm);
  (*vm)->Stop();

  std::vector<std::string> lines = absl::StrSplit((*vm)->console(), '\n', absl::SkipEmpty());
  ASSERT_GE(lines.size(), size_t{2 + kHeartbeats});
  EXPECT_EQ(lines.front() + "\n", BootLine("counter", vcpus));
  EXPECT_EQ(lines.back() + "\n", VMD_CONSOLE_POWER_OFF_LINE);
  const std::regex heartbeat(R"(heartbeat ([1-9][0-9]*) counter=(0|[1-9][0-9]*))");
  uint64_t previous_counter = 0;
  for (size_t i = 1; i + 1 < lines.size(); ++i) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(lines[i], match, heartbeat)) << "line: '" << lines[i] << "'";
    EXPECT_EQ(std::stoull(match[1]), i) << lines[i];
    uint64_t counter = std::stoull(match[2]);
    EXPECT_GT(counter, previous_counter) << lines[i];
    previous_counter = counter;
  }
  EXPECT_GE((*vm)->status().counter, previous_counter);
  ExpectNoFailures(**vm);
}

TEST_P(KvmBootTest, InterruptsAreCountedAndAcknowledged) {
  VMD_REQUIRE_KVM();
  const uint32_t vcpus = GetParam();
  absl::StatusOr<std::unique_ptr<TestVm>> vm =
      TestVm::Create(Options(VMD_WORKLOAD_IDLE, vcpus));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ExpectHealthyBoot(**vm, vcpus);
  // One at a time, each to every vCPU: without the guest's EOI the second
  // interrupt of a vector would stay pending and the count would stop at 1.
  constexpr uint8_t kVector = 0x40;
  constexpr uint64_t kRounds = 5;
  for (uint64_t round = 1; round <= kRounds; ++round) {
    for (uint32_t apic = 0; apic < vcpus; ++apic) {
      const uint8_t vector = kVector + apic;
      ASSERT_TRUE((*vm)->vm().SignalMsi(FixedMsi(apic, vector)).ok());
      ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().interrupts[vector] == round; }))
          << "vector 0x" << std::hex << int{vector} << " count "
          << (*vm)->diag().interrupts[vector];
    }
  }
  ShutDownGracefully(**vm);
  (*vm)->Stop();
  ExpectNoFailures(**vm);
}

INSTANTIATE_TEST_SUITE_P(Vcpus, KvmBootTest, ::testing::Values(1u, 2u),
                         [](const auto& info) { return absl::StrCat(info.param, "vcpu"); });

TEST(KvmBootApTest, ShutdownVectorToAnApplicationProcessorPowersOff) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_COUNTER, 2));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ExpectHealthyBoot(**vm, 2);
  ASSERT_TRUE((*vm)->vm().SignalMsi(FixedMsi(1, VMD_VECTOR_SHUTDOWN)).ok());
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->power_off_code().has_value(); }));
  EXPECT_EQ(*(*vm)->power_off_code(), VMD_POWER_OFF_OK);
  (*vm)->Stop();
  std::string console = (*vm)->console();
  // Exactly one power-off line although both vCPUs see the request.
  EXPECT_EQ(console.find(VMD_CONSOLE_POWER_OFF_LINE),
            console.rfind(VMD_CONSOLE_POWER_OFF_LINE));
  ExpectNoFailures(**vm);
}

TEST(KvmBootErrorsTest, MsiToAMissingApicIsDropped) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().vcpus_online == 1; }));
  // No APIC 7, nor 0x1234 (beyond 8 bits: the 32-bit x2APIC id format): the
  // MSI is dropped, as on the APIC bus, and nothing is counted.
  EXPECT_TRUE((*vm)->vm().SignalMsi(FixedMsi(7, 0x40)).ok());
  EXPECT_TRUE((*vm)->vm().SignalMsi(FixedMsi(0x1234, 0x40)).ok());
  ASSERT_TRUE((*vm)->vm().SignalMsi(FixedMsi(0, 0x41)).ok());
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().interrupts[0x41] == 1; }));
  EXPECT_EQ((*vm)->diag().interrupts[0x40], 0u);
  (*vm)->Stop();
  ExpectNoFailures(**vm);
}

TEST(KvmBootErrorsTest, MsiBeforeTheGuestEnabledItsApicIsDropped) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  // Not started: the APIC is still software-disabled.
  EXPECT_TRUE((*vm)->vm().SignalMsi(FixedMsi(0, 0x40)).ok());
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->diag().vcpus_online == 1; }));
  EXPECT_EQ((*vm)->diag().interrupts[0x40], 0u);
  (*vm)->Stop();
  ExpectNoFailures(**vm);
}

TEST(KvmBootErrorsTest, BadBootInfoMagicPowersOffWithItsCode) {
  VMD_REQUIRE_KVM();
  TestVmOptions options = Options(VMD_WORKLOAD_IDLE);
  options.boot_magic = 0x12345678;
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(options);
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->power_off_code().has_value(); }));
  EXPECT_EQ(*(*vm)->power_off_code(), VMD_POWER_OFF_BAD_BOOT_INFO);
  EXPECT_EQ((*vm)->console(), "vmd firmware: bad boot info magic 0x12345678\n");
  (*vm)->Stop();
  ExpectNoFailures(**vm);
}

TEST(KvmBootErrorsTest, UnknownWorkloadPowersOffWithItsCode) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(7));
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->power_off_code().has_value(); }));
  EXPECT_EQ(*(*vm)->power_off_code(), VMD_POWER_OFF_BAD_WORKLOAD);
  EXPECT_EQ((*vm)->console(), "vmd firmware: unknown workload 7\n");
  (*vm)->Stop();
  ExpectNoFailures(**vm);
}

}  // namespace
}  // namespace vmd::hv::testing

// vCPU and VM state through the hypervisor interface, on kvm and on sim: a
// running guest's whole state saved and restored into a new VM over the same
// memory goes on from where it was -- the counter keeps counting, heartbeats
// keep their numbering, interrupts still reach it -- and nothing reboots.
#include <regex>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

class VmStateTest : public ::testing::TestWithParam<BackendKind> {
 protected:
  void SetUp() override {
    if (GetParam() == BackendKind::kKvm) VMD_REQUIRE_KVM();
  }
  TestVmOptions Counter() {
    TestVmOptions options = Options(VMD_WORKLOAD_COUNTER, /*vcpus=*/2, /*heartbeat_ms=*/20);
    options.backend = GetParam();
    return options;
  }
};

// The heartbeat numbers in `console`, in order.
std::vector<uint64_t> Heartbeats(const std::string& console) {
  std::vector<uint64_t> numbers;
  const std::regex heartbeat(R"(heartbeat ([0-9]+) counter=[0-9]+)");
  for (absl::string_view line : absl::StrSplit(console, '\n', absl::SkipEmpty())) {
    std::cmatch match;
    if (std::regex_match(line.begin(), line.end(), match, heartbeat)) numbers.push_back(std::stoull(match[1]));
  }
  return numbers;
}

TEST_P(VmStateTest, RestoredIntoANewVmTheCounterGoesOnWhereItWas) {
  absl::StatusOr<std::unique_ptr<TestVm>> first = TestVm::Create(Counter());
  ASSERT_TRUE(first.ok()) << first.status();
  (*first)->Start();
  ASSERT_TRUE((*first)->WaitForConsole("heartbeat 3 counter=")) << (*first)->console();

  absl::StatusOr<std::unique_ptr<TestVm>> second = (*first)->MoveStateToNewVm();
  ASSERT_TRUE(second.ok()) << second.status();
  const vmd_guest_status saved = (*second)->status();
  ASSERT_GE(saved.heartbeats, 3u);
  first->reset();  // the old VM goes; the memory stays with the new one

  (*second)->Start();
  const std::string next = absl::StrCat("heartbeat ", saved.heartbeats + 2, " counter=");
  ASSERT_TRUE((*second)->WaitForConsole(next)) << (*second)->console();
  EXPECT_GT((*second)->status().counter, saved.counter);

  // Heartbeats 1, 2, 3, ... with no gap and no second boot line.
  const std::string console = (*second)->console();
  std::vector<uint64_t> numbers = Heartbeats(console);
  for (size_t i = 0; i < numbers.size(); ++i) EXPECT_EQ(numbers[i], i + 1) << console;
  EXPECT_EQ(console.find("vmd firmware:"), console.rfind("vmd firmware:")) << "the guest rebooted:\n" << console;

  // The restored LAPIC and routing still take interrupts: a graceful stop.
  ASSERT_TRUE((*second)->vm().SignalMsi(FixedMsi(0, VMD_VECTOR_SHUTDOWN)).ok());
  ASSERT_TRUE((*second)->WaitFor([&] { return (*second)->power_off_code().has_value(); }));
  EXPECT_EQ(*(*second)->power_off_code(), VMD_POWER_OFF_OK);
  (*second)->Stop();
  EXPECT_TRUE((*second)->errors().empty()) << (*second)->errors().front();
  EXPECT_TRUE((*second)->crashes().empty()) << (*second)->crashes().front().reason;
}

TEST_P(VmStateTest, SavedStateDescribesTheRunningGuest) {
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Counter());
  ASSERT_TRUE(vm.ok()) << vm.status();
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitForConsole("heartbeat 1 counter=")) << (*vm)->console();
  (*vm)->Stop();
  absl::StatusOr<VcpuState> state = (*vm)->vcpu(1).SaveState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->id, 1u);
  EXPECT_GT(state->tsc_khz, 0u);
  ASSERT_NE(cpu::FindCpuid(state->cpuid, 1), nullptr);
  EXPECT_EQ(cpu::FindCpuid(state->cpuid, 1)->ebx >> 24, 1u) << "vCPU 1's own CPUID";
  // The MSRs the backend reports hold at least the TSC; long mode is in the
  // special registers.
  auto msr = [&](uint32_t index) -> std::optional<uint64_t> {
    for (const MsrValue& m : state->msrs) {
      if (m.index == index) return m.value;
    }
    return std::nullopt;
  };
  ASSERT_TRUE(msr(0x10).has_value());
  EXPECT_GT(*msr(0x10), 0u);
  EXPECT_EQ(state->sregs.efer & 0x500, 0x500u) << "EFER.LME|LMA";
  EXPECT_NE(state->sregs.apic_base & (1u << 10), 0u) << "x2APIC mode";
  if (GetParam() == BackendKind::kKvm) {
    EXPECT_NE(state->sregs.cr0 & 0x80000000u, 0u) << "paging";
    EXPECT_GE(state->xsave.size(), 4096u);
    EXPECT_FALSE(state->xcrs.empty());
    EXPECT_TRUE(state->sim_model.empty());
  } else {
    EXPECT_FALSE(state->sim_model.empty());
  }
  absl::StatusOr<VmState> vm_state = (*vm)->vm().SaveState();
  ASSERT_TRUE(vm_state.ok()) << vm_state.status();
  EXPECT_EQ(vm_state->irqchip.has_value(), GetParam() == BackendKind::kKvm);
  EXPECT_FALSE(vm_state->base_cpuid.empty());
}

TEST_P(VmStateTest, AStateOfOneVcpuIsRefusedByAnother) {
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Counter());
  ASSERT_TRUE(vm.ok()) << vm.status();
  absl::StatusOr<VcpuState> state = (*vm)->vcpu(0).SaveState();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ((*vm)->vcpu(1).RestoreState(*state).code(), absl::StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, VmStateTest, ::testing::Values(BackendKind::kKvm, BackendKind::kSim),
                         [](const auto& info) { return std::string(BackendName(info.param)); });

}  // namespace
}  // namespace vmd::hv::testing

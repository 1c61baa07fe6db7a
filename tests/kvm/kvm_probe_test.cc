// The firmware's probe workload on real KVM, driven through the mailbox
// (guest_abi.h) the way the engine drives it: every op kind, faults fixed up
// and reported, interrupts counted for WAIT_INTERRUPT, consecutive programs.
#include <atomic>
#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

constexpr uint32_t kVectorUd = 6;
constexpr uint32_t kVectorGp = 13;

vmd_probe_op Op(uint32_t kind, uint32_t index = 0, uint64_t arg = 0, uint64_t arg2 = 0,
                uint32_t subleaf = 0) {
  vmd_probe_op op{};
  op.kind = kind;
  op.index = index;
  op.subleaf = subleaf;
  op.arg = arg;
  op.arg2 = arg2;
  return op;
}

class KvmProbeWorkloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VMD_REQUIRE_KVM();
    absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_PROBE, 2));
    ASSERT_TRUE(vm.ok()) << vm.status();
    vm_ = *std::move(vm);
    vm_->Start();
    ASSERT_TRUE(vm_->WaitForConsole("vmd firmware: probe on 2 vcpu(s)\n")) << vm_->console();
    ASSERT_TRUE(vm_->WaitFor([&] { return vm_->diag().vcpus_online == 2; }));
  }

  void TearDown() override {
    if (vm_ == nullptr) return;
    vm_->Stop();
    EXPECT_TRUE(vm_->crashes().empty()) << vm_->crashes().front().reason << "\n"
                                        << vm_->crashes().front().registers;
    EXPECT_TRUE(vm_->errors().empty()) << vm_->errors().front();
  }

  // Runs `ops` as the engine does and returns the ops with their results.
  std::vector<vmd_probe_op> Run(const std::vector<vmd_probe_op>& ops) {
    auto* mailbox = vm_->memory().At<vmd_probe_mailbox>(VMD_PROBE_MAILBOX_GPA);
    mailbox->magic = VMD_PROBE_MAGIC;
    mailbox->nops = static_cast<uint32_t>(ops.size());
    std::memcpy(mailbox->ops, ops.data(), ops.size() * sizeof(vmd_probe_op));
    const uint32_t sequence = ++sequence_;
    std::atomic_ref<uint32_t>(mailbox->sequence).store(sequence, std::memory_order_release);
    absl::Status s = vm_->vm().SignalMsi(FixedMsi(0, VMD_VECTOR_PROBE));
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(vm_->WaitFor([&] { return vm_->probe_done() == sequence; }))
        << "program " << sequence << " did not finish; console:\n" << vm_->console();
    EXPECT_EQ(std::atomic_ref<uint32_t>(mailbox->done_sequence).load(std::memory_order_acquire),
              sequence);
    return std::vector<vmd_probe_op>(mailbox->ops, mailbox->ops + ops.size());
  }

  std::unique_ptr<TestVm> vm_;
  uint32_t sequence_ = 0;
};

TEST_F(KvmProbeWorkloadTest, MsrOpsReportValuesAndFaults) {
  std::vector<vmd_probe_op> r = Run({
      Op(VMD_PROBE_RDMSR, 0x1b),                             // IA32_APIC_BASE
      Op(VMD_PROBE_RDMSR, 0x802),                            // x2APIC id
      Op(VMD_PROBE_RDMSR, 0x4b564dff),                       // unknown: #GP
      Op(VMD_PROBE_WRMSR, 0xc0000080, 0x500 | (1ull << 20)), // EFER reserved bit: #GP
      Op(VMD_PROBE_WRMSR, 0x277, 0x0007040600070406ull),     // PAT
      Op(VMD_PROBE_RDMSR, 0x277),
  });
  EXPECT_EQ(r[0].status, VMD_PROBE_OK);
  EXPECT_EQ(r[0].out[0], 0xfee00d00u);  // base, EN, EXTD, BSP
  EXPECT_EQ(r[1].status, VMD_PROBE_OK);
  EXPECT_EQ(r[1].out[0], 0u);
  EXPECT_EQ(r[2].status, VMD_PROBE_FAULT);
  EXPECT_EQ(r[2].vector, kVectorGp);
  EXPECT_EQ(r[2].out[0], 0u);
  EXPECT_EQ(r[3].status, VMD_PROBE_FAULT);
  EXPECT_EQ(r[3].vector, kVectorGp);
  EXPECT_EQ(r[4].status, VMD_PROBE_OK);
  EXPECT_EQ(r[5].out[0], 0x0007040600070406ull);
}

TEST_F(KvmProbeWorkloadTest, CpuidTscMemoryAndSpin) {
  std::vector<vmd_probe_op> r = Run({
      Op(VMD_PROBE_CPUID, 0xb, 0, 0, /*subleaf=*/1),
      Op(VMD_PROBE_RDTSC),
      Op(VMD_PROBE_WRITE_MEM, 8, 0x400000, 0x1122334455667788ull),
      Op(VMD_PROBE_READ_MEM, 4, 0x400004),
      Op(VMD_PROBE_READ_MEM, 1, 0x400000),
      Op(VMD_PROBE_READ_MEM, 2, 0x400002),
      Op(VMD_PROBE_READ_MEM, 3, 0x400000),  // no such access size: #UD
      Op(VMD_PROBE_SPIN, 0, 1000),
      Op(VMD_PROBE_RDTSC),
      Op(99),                               // unknown op: #UD
  });
  EXPECT_EQ(r[0].status, VMD_PROBE_OK);
  EXPECT_EQ(r[0].out[1], 2u);      // EBX: 2 cores
  EXPECT_EQ(r[0].out[2], 0x201u);  // ECX: level 1, core
  EXPECT_EQ(r[0].out[3], 0u);      // EDX: x2APIC id of vCPU 0
  EXPECT_EQ(r[2].status, VMD_PROBE_OK);
  EXPECT_EQ(*vm_->memory().At<uint64_t>(0x400000), 0x1122334455667788ull);
  EXPECT_EQ(r[3].out[0], 0x11223344u);
  EXPECT_EQ(r[4].out[0], 0x88u);
  EXPECT_EQ(r[5].out[0], 0x5566u);
  EXPECT_EQ(r[6].status, VMD_PROBE_FAULT);
  EXPECT_EQ(r[6].vector, kVectorUd);
  EXPECT_EQ(r[7].status, VMD_PROBE_OK);
  EXPECT_GT(r[7].out[0], 0u);
  EXPECT_GT(r[8].out[0], r[1].out[0]);
  EXPECT_EQ(r[9].status, VMD_PROBE_FAULT);
  EXPECT_EQ(r[9].vector, kVectorUd);
}

TEST_F(KvmProbeWorkloadTest, WaitInterruptCountsSelfIpisAndTimesOut) {
  std::vector<vmd_probe_op> r = Run({
      Op(VMD_PROBE_WRMSR, 0x83f, 0x40),  // x2APIC self IPI, vector 0x40
      Op(VMD_PROBE_WAIT_INTERRUPT, 0x40, 0, 0, /*timeout_us=*/1000000),
      Op(VMD_PROBE_WAIT_INTERRUPT, 0x40, 0, 0, /*timeout_us=*/20000),  // already consumed
      Op(VMD_PROBE_WRMSR, 0x83f, 0x41),
      Op(VMD_PROBE_WRMSR, 0x83f, 0x42),
      Op(VMD_PROBE_WAIT_INTERRUPT, 0x42, 0, 0, 1000000),
      Op(VMD_PROBE_WAIT_INTERRUPT, 0x41, 0, 0, 1000000),  // arrived before the wait: counts
  });
  EXPECT_EQ(r[0].status, VMD_PROBE_OK);
  EXPECT_EQ(r[1].status, VMD_PROBE_OK);
  EXPECT_EQ(r[1].out[0], 1u);
  EXPECT_EQ(r[2].status, VMD_PROBE_TIMEOUT);
  EXPECT_EQ(r[5].status, VMD_PROBE_OK);
  EXPECT_EQ(r[6].status, VMD_PROBE_OK);
  EXPECT_EQ(r[6].out[0], 1u);
}

// The engine may ring the doorbell before the guest has enabled its APIC
// (the MSI is dropped): the firmware checks the mailbox when it enters the
// probe loop, so a program published early still runs.
TEST(KvmProbeWorkloadEarlyTest, ProgramPublishedBeforeBootRuns) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_PROBE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  auto* mailbox = (*vm)->memory().At<vmd_probe_mailbox>(VMD_PROBE_MAILBOX_GPA);
  mailbox->magic = VMD_PROBE_MAGIC;
  mailbox->nops = 1;
  mailbox->ops[0] = Op(VMD_PROBE_RDTSC);
  std::atomic_ref<uint32_t>(mailbox->sequence).store(1, std::memory_order_release);
  ASSERT_TRUE((*vm)->vm().SignalMsi(FixedMsi(0, VMD_VECTOR_PROBE)).ok());  // dropped
  (*vm)->Start();
  ASSERT_TRUE((*vm)->WaitFor([&] { return (*vm)->probe_done() == 1; })) << (*vm)->console();
  EXPECT_EQ(mailbox->ops[0].status, VMD_PROBE_OK);
  EXPECT_GT(mailbox->ops[0].out[0], 0u);
  (*vm)->Stop();
  EXPECT_TRUE((*vm)->crashes().empty());
}

TEST_F(KvmProbeWorkloadTest, ConsecutiveProgramsAndShutdown) {
  for (int i = 0; i < 5; ++i) {
    std::vector<vmd_probe_op> r = Run({Op(VMD_PROBE_RDMSR, 0x10)});
    EXPECT_EQ(r[0].status, VMD_PROBE_OK) << "program " << i;
  }
  ASSERT_TRUE(vm_->vm().SignalMsi(FixedMsi(0, VMD_VECTOR_SHUTDOWN)).ok());
  ASSERT_TRUE(vm_->WaitFor([&] { return vm_->power_off_code().has_value(); }));
  EXPECT_EQ(*vm_->power_off_code(), VMD_POWER_OFF_OK);
}

}  // namespace
}  // namespace vmd::hv::testing

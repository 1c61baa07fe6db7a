// A broken entry state crashes the guest the way the engine must report it:
// kShutdown (triple fault) with a reason and a register dump.
#include <cstring>

#include "gtest/gtest.h"
#include "backend/guest/firmware_image.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

VcpuExit RunUntilCrash(Vcpu& vcpu) {
  for (;;) {
    absl::StatusOr<VcpuExit> exit = vcpu.Run();
    EXPECT_TRUE(exit.ok()) << exit.status();
    if (!exit.ok()) return VcpuExit{};
    if (exit->kind == ExitKind::kShutdown || exit->kind == ExitKind::kInternalError) {
      return *std::move(exit);
    }
    if (exit->kind == ExitKind::kIoIn) {
      uint8_t lsr = 0x60;
      vcpu.CompleteIoIn(std::span<const uint8_t>(&lsr, 1));
    }
  }
}

void ExpectRegisterDump(const std::string& dump) {
  for (const char* field : {"vcpu 0 registers:", "rip=0x", "rflags=0x", "rax=0x", "r15=0x",
                            "cr0=0x", "cr2=0x", "cr3=0x", "cr4=0x", "efer=0x", "cs  sel=0x",
                            "ss  sel=0x", "tr  sel=0x", "gdt base=0x", "idt base=0x"}) {
    EXPECT_NE(dump.find(field), std::string::npos) << "no " << field << " in\n" << dump;
  }
}

TEST(KvmCrashTest, InvalidOpcodeAtEntryIsATripleFault) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  // ud2 at the entry point, before the firmware has an IDT: #UD, #GP, #DF,
  // shutdown.
  std::span<uint8_t> entry = (*vm)->memory().Slice(guest::kFirmwareEntryGpa, 2);
  entry[0] = 0x0f;
  entry[1] = 0x0b;
  VcpuExit exit = RunUntilCrash((*vm)->vcpu(0));
  EXPECT_EQ(exit.kind, ExitKind::kShutdown) << exit.reason;
  EXPECT_NE(exit.reason.find("triple fault"), std::string::npos) << exit.reason;
  std::string dump = (*vm)->vcpu(0).DumpRegisters();
  std::cout << exit.reason << "\n" << dump;
  ExpectRegisterDump(dump);
}

TEST(KvmCrashTest, MissingPageTablesAreATripleFault) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  // An empty PML4: the very first instruction fetch page-faults.
  std::span<uint8_t> pml4 = (*vm)->memory().Slice(VMD_PAGE_TABLES_GPA, 4096);
  std::memset(pml4.data(), 0, pml4.size());
  VcpuExit exit = RunUntilCrash((*vm)->vcpu(0));
  EXPECT_EQ(exit.kind, ExitKind::kShutdown) << exit.reason;
  ExpectRegisterDump((*vm)->vcpu(0).DumpRegisters());
}

TEST(KvmCrashTest, NoFirmwareJumpsIntoGarbageAndCrashes) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<TestVm>> vm = TestVm::Create(Options(VMD_WORKLOAD_IDLE));
  ASSERT_TRUE(vm.ok()) << vm.status();
  // No firmware at all: the entry point and everything after it is 0xff
  // bytes (ff ff is an invalid opcode); with no IDT the fault is fatal.
  std::span<uint8_t> window =
      (*vm)->memory().Slice(guest::kFirmwareLoadGpa, guest::kFirmwareMaxBytes);
  std::memset(window.data(), 0xff, window.size());
  VcpuExit exit = RunUntilCrash((*vm)->vcpu(0));
  EXPECT_TRUE(exit.kind == ExitKind::kShutdown || exit.kind == ExitKind::kInternalError)
      << ExitKindName(exit.kind) << ": " << exit.reason;
  EXPECT_FALSE(exit.reason.empty());
  ExpectRegisterDump((*vm)->vcpu(0).DumpRegisters());
}

}  // namespace
}  // namespace vmd::hv::testing

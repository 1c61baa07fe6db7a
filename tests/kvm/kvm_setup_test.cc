// The parts of the kvm backend that need no /dev/kvm (CPUID shaping, page
// tables, register dumps, the embedded firmware), plus probe and
// configuration checks that do.
#include <fcntl.h>
#include <linux/kvm.h>
#include <unistd.h>

#include <algorithm>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "backend/guest/firmware_image.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/kvm/kvm_capabilities.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_hypervisor.h"
#include "backend/hypervisor/kvm/kvm_registers.h"
#include "backend/hypervisor/kvm/long_mode_setup.h"
#include "backend/memory/guest_memory.h"
#include "gtest/gtest.h"
#include "tests/kvm/kvm_test_vm.h"

namespace vmd::hv::testing {
namespace {

using kvm::BuildVcpuCpuid;
using kvm::CpuidEntries;
using kvm::FindCpuid;

kvm_cpuid_entry2 Leaf(uint32_t function, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx) {
  kvm_cpuid_entry2 e{};
  e.function = function;
  e.eax = eax;
  e.ebx = ebx;
  e.ecx = ecx;
  e.edx = edx;
  return e;
}

// A small AMD-like supported table: vendor "AuthenticAMD", max leaf 0xd.
CpuidEntries FakeAmdCpuid() {
  return {
      Leaf(0, 0xd, 0x68747541, 0x444d4163, 0x69746e65),  // "Auth" "cAMD" "enti"
      Leaf(1, 0x00a00f11, 0x00000800, 0x0, 0x178bfbff),
      Leaf(0x80000001, 0, 0, 0x0, 0),
      Leaf(0x80000008, 0x3030, 0, 0x0000ffff, 0),
      Leaf(0x8000001e, 7, 7, 7, 0),
  };
}

TEST(KvmCpuidTest, Leaf1HasTheApicIdCountAndFeatureBits) {
  CpuidEntries cpuid = BuildVcpuCpuid(FakeAmdCpuid(), 3, 4);
  const kvm_cpuid_entry2* leaf1 = FindCpuid(cpuid, 1);
  ASSERT_NE(leaf1, nullptr);
  EXPECT_EQ(leaf1->ebx >> 24, 3u);             // initial APIC id
  EXPECT_EQ((leaf1->ebx >> 16) & 0xff, 4u);    // logical processors
  EXPECT_EQ(leaf1->ebx & 0xffff, 0x0800u);     // CLFLUSH size kept
  EXPECT_NE(leaf1->ecx & (1u << 21), 0u);      // x2APIC
  EXPECT_NE(leaf1->ecx & (1u << 31), 0u);      // hypervisor
  EXPECT_NE(leaf1->edx & (1u << 28), 0u);      // HTT with > 1 logical processor

  CpuidEntries single = BuildVcpuCpuid(FakeAmdCpuid(), 0, 1);
  EXPECT_EQ(FindCpuid(single, 1)->edx & (1u << 28), 0u);
}

TEST(KvmCpuidTest, ExtendedTopologyDescribesOneCorePerVcpu) {
  CpuidEntries cpuid = BuildVcpuCpuid(FakeAmdCpuid(), 5, 6);
  EXPECT_GE(FindCpuid(cpuid, 0)->eax, 0xbu);  // max basic leaf raised to 0xB
  const kvm_cpuid_entry2* smt = FindCpuid(cpuid, 0xb, 0);
  const kvm_cpuid_entry2* core = FindCpuid(cpuid, 0xb, 1);
  const kvm_cpuid_entry2* end = FindCpuid(cpuid, 0xb, 2);
  ASSERT_TRUE(smt && core && end);
  EXPECT_NE(smt->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 0u);
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
  EXPECT_EQ(FindCpuid(cpuid, 0x1f), nullptr) << "0x1f only when KVM reports it";
}

TEST(KvmCpuidTest, AmdLeavesCarryTheCoreCount) {
  CpuidEntries cpuid = BuildVcpuCpuid(FakeAmdCpuid(), 2, 4);
  EXPECT_NE(FindCpuid(cpuid, 0x80000001)->ecx & (1u << 1), 0u);  // CmpLegacy
  const kvm_cpuid_entry2* ext8 = FindCpuid(cpuid, 0x80000008);
  EXPECT_EQ(ext8->ecx & 0xff, 3u);           // cores - 1
  EXPECT_EQ((ext8->ecx >> 12) & 0xf, 2u);    // APIC id bits for 4 cores
  EXPECT_EQ(ext8->ecx & 0xf00u, 0xf00u);     // other bits kept
  const kvm_cpuid_entry2* ext1e = FindCpuid(cpuid, 0x8000001e);
  EXPECT_EQ(ext1e->eax, 2u);
  EXPECT_EQ(ext1e->ebx, 2u);
  EXPECT_EQ(ext1e->ecx, 0u);
}

TEST(KvmCpuidTest, RealSupportedCpuidIsAdjustedPerVcpu) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<kvm::Fd> kvm_fd = kvm::OpenKvmDevice();
  ASSERT_TRUE(kvm_fd.ok()) << kvm_fd.status();
  absl::StatusOr<CpuidEntries> supported = kvm::GetSupportedCpuid(kvm_fd->get());
  ASSERT_TRUE(supported.ok()) << supported.status();
  ASSERT_GT(supported->size(), 10u);
  for (uint32_t id = 0; id < 2; ++id) {
    CpuidEntries cpuid = BuildVcpuCpuid(*supported, id, 2);
    EXPECT_EQ(FindCpuid(cpuid, 1)->ebx >> 24, id);
    EXPECT_EQ(FindCpuid(cpuid, 0xb, 0)->edx, id);
    EXPECT_NE(FindCpuid(cpuid, 1)->ecx & (1u << 21), 0u);
  }
}

TEST(LongModeSetupTest, PageTablesIdentityMapAllOfRamWith2MiBPages) {
  absl::StatusOr<std::unique_ptr<GuestMemory>> memory = GuestMemory::Create(3ull << 30);
  ASSERT_TRUE(memory.ok()) << memory.status();
  ASSERT_TRUE(kvm::WriteLongModeTables(**memory).ok());
  auto entry = [&](uint64_t gpa) { return *(*memory)->At<uint64_t>(gpa); };
  constexpr uint64_t kPml4 = VMD_PAGE_TABLES_GPA;
  constexpr uint64_t kPdpt = VMD_PAGE_TABLES_GPA + 0x1000;
  EXPECT_EQ(entry(kPml4), kPdpt | 0x3);
  EXPECT_EQ(entry(kPml4 + 8), 0u);
  for (uint64_t gib = 0; gib < 3; ++gib) {
    const uint64_t pd = VMD_PAGE_TABLES_GPA + (2 + gib) * 0x1000;
    EXPECT_EQ(entry(kPdpt + 8 * gib), pd | 0x3);
    EXPECT_EQ(entry(pd), (gib << 30) | 0x83);
    EXPECT_EQ(entry(pd + 8 * 511), ((gib << 30) + (511ull << 21)) | 0x83);
  }
  EXPECT_EQ(entry(kPdpt + 8 * 3), 0u);
  // Boot GDT: code and data descriptors at their selectors, then the TSS.
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA), 0u);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_CODE64), 0x00af9b000000ffffull);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_DATA), 0x00cf93000000ffffull);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_TSS), 0x00008b0020000067ull);
}

TEST(LongModeSetupTest, SizesFollowTheLayout) {
  EXPECT_EQ(kvm::MinimumGuestMemory(1), uint64_t{VMD_MIN_MEMORY_MIB} << 20);
  EXPECT_EQ(kvm::MinimumGuestMemory(1024), VMD_STACKS_GPA + 1024 * VMD_STACK_BYTES);
  EXPECT_EQ(kvm::IdentityMappedBytes(16 << 20), 1ull << 30);
  EXPECT_EQ(kvm::IdentityMappedBytes((1ull << 30) + 1), 2ull << 30);
  EXPECT_EQ(kvm::IdentityMappedBytes(1ull << 40), VMD_IDENTITY_MAP_MAX_BYTES);
}

TEST(LongModeSetupTest, EntryStateIsLongModeAtTheFirmwareEntry) {
  kvm_sregs sregs{};
  kvm::SetLongModeSregs(sregs);
  EXPECT_EQ(sregs.cr0 & 0x80000001u, 0x80000001u);  // PG | PE
  EXPECT_NE(sregs.cr4 & (1u << 5), 0u);             // PAE
  EXPECT_EQ(sregs.efer & 0x500u, 0x500u);           // LME | LMA
  EXPECT_EQ(sregs.cr3, VMD_PAGE_TABLES_GPA);
  EXPECT_EQ(sregs.cs.l, 1);
  EXPECT_EQ(sregs.cs.db, 0);
  EXPECT_EQ(sregs.cs.selector, VMD_SELECTOR_CODE64);
  EXPECT_EQ(sregs.idt.limit, 0);
  kvm_regs regs = kvm::LongModeEntryRegs(3, guest::kFirmwareEntryGpa);
  EXPECT_EQ(regs.rip, VMD_FIRMWARE_ENTRY_GPA);
  EXPECT_EQ(regs.rsp, VMD_STACKS_GPA + 4 * VMD_STACK_BYTES);
  EXPECT_EQ(regs.rdi, 3u);
  EXPECT_EQ(regs.rsi, VMD_BOOT_INFO_GPA);
  EXPECT_EQ(regs.rflags, 0x2u);
}

TEST(KvmRegistersTest, DumpNamesEveryRegister) {
  kvm_regs regs{};
  regs.rip = 0x100000;
  regs.rax = 0xdeadbeef;
  kvm_sregs sregs{};
  kvm::SetLongModeSregs(sregs);
  std::string dump = kvm::FormatRegisters(regs, sregs);
  EXPECT_TRUE(absl::StrContains(dump, "rip=0x0000000000100000")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "rax=0x00000000deadbeef")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "efer=0x0000000000000500")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "cs  sel=0x0008")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "tr  sel=0x0018")) << dump;
}

TEST(FirmwareImageTest, FitsItsWindowAndStartsAtTheEntry) {
  std::span<const uint8_t> image = guest::FirmwareImage();
  ASSERT_GT(image.size(), 0u);
  EXPECT_LE(image.size(), guest::kFirmwareMaxBytes);
  EXPECT_EQ(guest::kFirmwareEntryGpa, guest::kFirmwareLoadGpa);
  EXPECT_EQ(image[0], 0xfa);  // cli: _start is the first byte
  EXPECT_EQ(reinterpret_cast<uintptr_t>(image.data()) % 4096, 0u);
}

TEST(KvmCapabilitiesTest, EveryRequiredCapabilityHasAName) {
  for (const kvm::RequiredCapability& cap : kvm::RequiredCapabilities()) {
    EXPECT_TRUE(absl::StartsWith(cap.name, "KVM_CAP_")) << cap.name;
    EXPECT_GE(cap.capability, 0) << cap.name;  // KVM_CAP_IRQCHIP is 0
  }
}

TEST(KvmCapabilitiesTest, MissingCapabilitiesAreNamed) {
  // Not a KVM fd: every check fails, so every capability is reported.
  int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<std::string> missing = kvm::MissingCapabilities(fd);
  close(fd);
  ASSERT_EQ(missing.size(), kvm::RequiredCapabilities().size());
  EXPECT_EQ(missing.front(), "KVM_CAP_IRQCHIP");
  EXPECT_NE(std::find(missing.begin(), missing.end(), "KVM_CAP_X86_MSR_FILTER"), missing.end());
  EXPECT_NE(std::find(missing.begin(), missing.end(), "KVM_CAP_IMMEDIATE_EXIT"), missing.end());
}

TEST(KvmProbeTest, ReportsUsableWithAVcpuLimit) {
  VMD_REQUIRE_KVM();
  BackendAvailability availability = ProbeKvm();
  EXPECT_EQ(availability.kind, BackendKind::kKvm);
  EXPECT_TRUE(availability.usable);
  EXPECT_TRUE(availability.reason.empty()) << availability.reason;
  EXPECT_GE(availability.max_vcpus, 2u);
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = OpenKvm();
  ASSERT_TRUE(hv.ok()) << hv.status();
  EXPECT_EQ((*hv)->kind(), BackendKind::kKvm);
  EXPECT_EQ((*hv)->MaxVcpus(), availability.max_vcpus);
  absl::StatusOr<uint64_t> khz = KvmTscKhz();
  ASSERT_TRUE(khz.ok()) << khz.status();
  EXPECT_GT(*khz, 100000u);  // > 100 MHz
}

VmConfig Config(uint32_t vcpus, uint64_t memory_bytes) {
  VmConfig config;
  config.vcpus = vcpus;
  config.memory_bytes = memory_bytes;
  return config;
}

TEST(KvmVmTest, ConfigurationIsValidated) {
  VMD_REQUIRE_KVM();
  absl::StatusOr<std::unique_ptr<Hypervisor>> hv = OpenKvm();
  ASSERT_TRUE(hv.ok()) << hv.status();
  const uint64_t memory = 32ull << 20;
  EXPECT_EQ((*hv)->CreateVm(Config(0, memory)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*hv)->CreateVm(Config((*hv)->MaxVcpus() + 1, memory))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*hv)->CreateVm(Config(1, 1 << 20)).status().code(),
            absl::StatusCode::kInvalidArgument);

  absl::StatusOr<std::unique_ptr<Vm>> vm = (*hv)->CreateVm(Config(2, memory));
  ASSERT_TRUE(vm.ok()) << vm.status();
  EXPECT_EQ((*vm)->CreateVcpu(0).status().code(), absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<std::unique_ptr<GuestMemory>> ram = GuestMemory::Create(memory);
  ASSERT_TRUE(ram.ok());
  EXPECT_EQ((*vm)->LoadGuest(**ram).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*vm)->SetGuestMemory(**ram).ok());
  EXPECT_EQ((*vm)->SetGuestMemory(**ram).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE((*vm)->LoadGuest(**ram).ok());
  absl::StatusOr<std::unique_ptr<Vcpu>> vcpu0 = (*vm)->CreateVcpu(0);
  ASSERT_TRUE(vcpu0.ok()) << vcpu0.status();
  EXPECT_EQ((*vcpu0)->id(), 0u);
  EXPECT_EQ((*vm)->CreateVcpu(0).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*vm)->CreateVcpu(2).status().code(), absl::StatusCode::kInvalidArgument);
  // The boot info had no magic: LoadGuest leaves it alone.
  EXPECT_EQ((*ram)->At<vmd_boot_info>(VMD_BOOT_INFO_GPA)->tsc_khz, 0u);
}

}  // namespace
}  // namespace vmd::hv::testing

// Loading the firmware the same way on every backend: page tables, boot
// GDT/TSS, the long-mode entry state, the embedded image; and register dumps.
#include "backend/guest/firmware_loader.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "backend/guest/firmware_image.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/register_dump.h"
#include "backend/memory/guest_memory.h"

namespace vmd::guest {
namespace {

TEST(FirmwareLoaderTest, PageTablesIdentityMapAllOfRamWith2MiBPages) {
  absl::StatusOr<std::unique_ptr<hv::GuestMemory>> memory = hv::GuestMemory::Create({{0, 3ull << 30}});
  ASSERT_TRUE(memory.ok()) << memory.status();
  ASSERT_TRUE(WriteLongModeTables(**memory).ok());
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
  EXPECT_NE(entry(kPdpt + 8 * 3), 0u) << "the MMIO hole below 4 GiB is mapped";
  EXPECT_EQ(entry(kPdpt + 8 * 4), 0u);
  // Boot GDT: code and data descriptors at their selectors, then the TSS.
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA), 0u);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_CODE64), 0x00af9b000000ffffull);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_DATA), 0x00cf93000000ffffull);
  EXPECT_EQ(entry(VMD_BOOT_GDT_GPA + VMD_SELECTOR_TSS), 0x00008b0020000067ull);
}

TEST(FirmwareLoaderTest, RamAboveTheHoleIsMappedToo) {
  // 4 GiB of RAM: 3 GiB below the MMIO hole, 1 GiB from 4 GiB.
  absl::StatusOr<std::unique_ptr<hv::GuestMemory>> memory =
      hv::GuestMemory::Create(hv::StandardMemoryLayout(4ull << 30));
  ASSERT_TRUE(memory.ok()) << memory.status();
  ASSERT_EQ((*memory)->regions().size(), 2u);
  EXPECT_EQ((*memory)->regions()[1].gpa, 4ull << 30);
  ASSERT_TRUE(WriteLongModeTables(**memory).ok());
  const uint64_t pdpt = VMD_PAGE_TABLES_GPA + 0x1000;
  EXPECT_NE(*(*memory)->At<uint64_t>(pdpt + 8 * 4), 0u) << "GiB 4 (the second region) is mapped";
  EXPECT_EQ(*(*memory)->At<uint64_t>(pdpt + 8 * 5), 0u);
}

TEST(FirmwareLoaderTest, SizesFollowTheLayout) {
  EXPECT_EQ(MinimumGuestMemory(1), uint64_t{VMD_MIN_MEMORY_MIB} << 20);
  EXPECT_EQ(MinimumGuestMemory(1024), VMD_STACKS_GPA + 1024 * VMD_STACK_BYTES);
  EXPECT_EQ(IdentityMappedBytes(16 << 20), 4ull << 30);
  EXPECT_EQ(IdentityMappedBytes((4ull << 30) + 1), 5ull << 30);
  EXPECT_EQ(IdentityMappedBytes(1ull << 40), VMD_IDENTITY_MAP_MAX_BYTES);
}

TEST(FirmwareLoaderTest, LoadRefusesMemoryTooSmallForTheVcpus) {
  absl::StatusOr<std::unique_ptr<hv::GuestMemory>> memory = hv::GuestMemory::Create({{0, 16ull << 20}});
  ASSERT_TRUE(memory.ok());
  EXPECT_TRUE(LoadFirmware(**memory, 1).ok());
  absl::Status s = LoadFirmware(**memory, 4096);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "4096 vCPU(s)")) << s;
}

TEST(FirmwareLoaderTest, EntryStateIsLongModeAtTheFirmwareEntry) {
  hv::BootEntry entry = FirmwareEntry(3);
  EXPECT_EQ(entry.sregs.cr0 & 0x80000001u, 0x80000001u);  // PG | PE
  EXPECT_NE(entry.sregs.cr4 & (1u << 5), 0u);             // PAE
  EXPECT_EQ(entry.sregs.efer & 0x500u, 0x500u);           // LME | LMA
  EXPECT_EQ(entry.sregs.cr3, VMD_PAGE_TABLES_GPA);
  EXPECT_TRUE(entry.sregs.cs.l);
  EXPECT_FALSE(entry.sregs.cs.db);
  EXPECT_EQ(entry.sregs.cs.selector, VMD_SELECTOR_CODE64);
  EXPECT_EQ(entry.sregs.idt.limit, 0);
  EXPECT_EQ(entry.regs.rip, VMD_FIRMWARE_ENTRY_GPA);
  EXPECT_EQ(entry.regs.rsp, VMD_STACKS_GPA + 4 * VMD_STACK_BYTES);
  EXPECT_EQ(entry.regs.rdi, 3u);
  EXPECT_EQ(entry.regs.rsi, VMD_BOOT_INFO_GPA);
  EXPECT_EQ(entry.regs.rflags, 0x2u);
}

TEST(FirmwareImageTest, FitsItsWindowAndStartsAtTheEntry) {
  std::span<const uint8_t> image = FirmwareImage();
  ASSERT_GT(image.size(), 0u);
  EXPECT_LE(image.size(), kFirmwareMaxBytes);
  EXPECT_EQ(kFirmwareEntryGpa, kFirmwareLoadGpa);
  EXPECT_EQ(image[0], 0xfa);  // cli: _start is the first byte
  EXPECT_EQ(reinterpret_cast<uintptr_t>(image.data()) % 4096, 0u);
}

TEST(RegisterDumpTest, NamesEveryRegister) {
  hv::BootEntry entry = FirmwareEntry(0);
  entry.regs.rip = 0x100000;
  entry.regs.rax = 0xdeadbeef;
  std::string dump = hv::FormatRegisters(entry.regs, entry.sregs);
  EXPECT_TRUE(absl::StrContains(dump, "rip=0x0000000000100000")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "rax=0x00000000deadbeef")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "efer=0x0000000000000500")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "cs  sel=0x0008")) << dump;
  EXPECT_TRUE(absl::StrContains(dump, "tr  sel=0x0018")) << dump;
}

}  // namespace
}  // namespace vmd::guest

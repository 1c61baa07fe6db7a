#include "backend/guest/firmware_loader.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "absl/strings/str_cat.h"
#include "backend/guest/firmware_image.h"
#include "backend/guest/guest_abi.h"

namespace vmd::guest {
namespace {

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kGiB = 1ull << 30;
constexpr uint64_t k2MiB = 1ull << 21;
// The whole 32-bit space: device MMIO lives in the hole below 4 GiB.
constexpr uint64_t kMappedAtLeast = 4 * kGiB;

// Page-table entry bits.
constexpr uint64_t kPtePresent = 1ull << 0;
constexpr uint64_t kPteWritable = 1ull << 1;
constexpr uint64_t kPteLargePage = 1ull << 7;

constexpr uint64_t kPml4Gpa = VMD_PAGE_TABLES_GPA;
constexpr uint64_t kPdptGpa = VMD_PAGE_TABLES_GPA + kPageSize;
constexpr uint64_t kFirstPdGpa = VMD_PAGE_TABLES_GPA + 2 * kPageSize;
static_assert(VMD_IDENTITY_MAP_MAX_BYTES / kGiB * kPageSize + 2 * kPageSize <=
              VMD_PAGE_TABLES_MAX_BYTES);

// Control-register and EFER bits.
constexpr uint64_t kCr0Pe = 1ull << 0;
constexpr uint64_t kCr0Mp = 1ull << 1;
constexpr uint64_t kCr0Et = 1ull << 4;
constexpr uint64_t kCr0Ne = 1ull << 5;
constexpr uint64_t kCr0Wp = 1ull << 16;
constexpr uint64_t kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5;
constexpr uint64_t kCr4Osfxsr = 1ull << 9;
constexpr uint64_t kCr4Osxmmexcpt = 1ull << 10;
constexpr uint64_t kEferLme = 1ull << 8;
constexpr uint64_t kEferLma = 1ull << 10;

// Boot GDT: flat 64-bit code and data descriptors, then a 16-byte TSS
// descriptor. The access bytes match the segments of LongModeEntry.
constexpr uint64_t kGdtCode64 = 0x00af9b000000ffffull;  // P, S, type 0xb, L, G
constexpr uint64_t kGdtData = 0x00cf93000000ffffull;    // P, S, type 0x3, D/B, G
constexpr uint32_t kTssLimit = 0x67;                    // 104-byte 64-bit TSS
constexpr uint8_t kTssTypeBusy64 = 0xb;
constexpr uint16_t kGdtEntries = 5;  // null, code, data, TSS (2 slots)

void WriteU64(std::span<uint8_t> page, uint64_t index, uint64_t value) {
  std::memcpy(page.data() + index * sizeof(uint64_t), &value, sizeof(value));
}

uint64_t TssDescriptorLow(uint64_t base, uint32_t limit) {
  return (limit & 0xffffull) | ((base & 0xffffffull) << 16) |
         (static_cast<uint64_t>(kTssTypeBusy64) << 40) | (1ull << 47) /* present */ |
         ((static_cast<uint64_t>(limit) >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
}

hv::Segment FlatSegment(uint16_t selector, uint8_t type, bool code) {
  return {.base = 0,
          .limit = 0xffffffff,
          .selector = selector,
          .type = type,
          .dpl = 0,
          .present = true,
          .s = true,
          .db = !code,  // a 64-bit code segment must have D clear
          .l = code,
          .g = true};
}

uint64_t RamEnd(const hv::GuestMemory& memory) {
  const hv::GuestMemory::Region& last = memory.regions().back();
  return last.gpa + last.size;
}

}  // namespace

uint64_t MinimumGuestMemory(uint32_t vcpus) {
  return std::max<uint64_t>(VMD_STACKS_GPA + uint64_t{vcpus} * VMD_STACK_BYTES,
                            uint64_t{VMD_MIN_MEMORY_MIB} << 20);
}

uint64_t IdentityMappedBytes(uint64_t ram_end) {
  uint64_t rounded = (ram_end + kGiB - 1) / kGiB * kGiB;
  return std::clamp<uint64_t>(rounded, kMappedAtLeast, VMD_IDENTITY_MAP_MAX_BYTES);
}

absl::Status WriteLongModeTables(hv::GuestMemory& memory) {
  const uint64_t mapped = IdentityMappedBytes(RamEnd(memory));
  const uint64_t pd_count = mapped / kGiB;
  std::span<uint8_t> tables = memory.Slice(VMD_PAGE_TABLES_GPA, (2 + pd_count) * kPageSize);
  std::span<uint8_t> gdt = memory.Slice(VMD_BOOT_GDT_GPA, kPageSize);
  std::span<uint8_t> tss = memory.Slice(VMD_BOOT_TSS_GPA, kPageSize);
  if (tables.empty() || gdt.empty() || tss.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "guest memory of ", memory.size(), " bytes is too small for the boot page tables"));
  }
  std::fill(tables.begin(), tables.end(), 0);
  std::span<uint8_t> pml4 = tables.subspan(0, kPageSize);
  std::span<uint8_t> pdpt = tables.subspan(kPageSize, kPageSize);
  WriteU64(pml4, 0, kPdptGpa | kPtePresent | kPteWritable);
  for (uint64_t gib = 0; gib < pd_count; ++gib) {
    const uint64_t pd_gpa = kFirstPdGpa + gib * kPageSize;
    WriteU64(pdpt, gib, pd_gpa | kPtePresent | kPteWritable);
    std::span<uint8_t> pd = tables.subspan((2 + gib) * kPageSize, kPageSize);
    for (uint64_t i = 0; i < 512; ++i) {
      WriteU64(pd, i, (gib * kGiB + i * k2MiB) | kPtePresent | kPteWritable | kPteLargePage);
    }
  }

  std::fill(gdt.begin(), gdt.end(), 0);
  WriteU64(gdt, VMD_SELECTOR_CODE64 / 8, kGdtCode64);
  WriteU64(gdt, VMD_SELECTOR_DATA / 8, kGdtData);
  WriteU64(gdt, VMD_SELECTOR_TSS / 8, TssDescriptorLow(VMD_BOOT_TSS_GPA, kTssLimit));
  WriteU64(gdt, VMD_SELECTOR_TSS / 8 + 1, VMD_BOOT_TSS_GPA >> 32);
  std::fill(tss.begin(), tss.end(), 0);
  return absl::OkStatus();
}

absl::Status LoadFirmware(hv::GuestMemory& memory, uint32_t vcpus) {
  const uint64_t needed = MinimumGuestMemory(vcpus);
  if (memory.regions().front().gpa != 0 || memory.regions().front().size < needed) {
    return absl::InvalidArgumentError(absl::StrCat("guest memory of ", memory.size(), " bytes is too small for ",
                                                   vcpus, " vCPU(s): the firmware needs ", needed,
                                                   " bytes from address 0"));
  }
  std::span<const uint8_t> image = FirmwareImage();
  std::span<uint8_t> window = memory.Slice(kFirmwareLoadGpa, kFirmwareMaxBytes);
  if (window.empty() || image.size() > window.size()) {
    return absl::InternalError("the firmware image does not fit its window");
  }
  std::fill(window.begin(), window.end(), 0);
  std::copy(image.begin(), image.end(), window.begin());
  return WriteLongModeTables(memory);
}

hv::BootEntry LongModeEntry(uint32_t vcpu_id, uint64_t entry_gpa) {
  hv::BootEntry entry;
  hv::SpecialRegisters& sregs = entry.sregs;
  sregs.cs = FlatSegment(VMD_SELECTOR_CODE64, 0xb, /*code=*/true);
  sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = FlatSegment(VMD_SELECTOR_DATA, 0x3, /*code=*/false);
  sregs.tr = {.base = VMD_BOOT_TSS_GPA,
              .limit = kTssLimit,
              .selector = VMD_SELECTOR_TSS,
              .type = kTssTypeBusy64,
              .present = true};
  sregs.ldt = {.type = 0x2, .unusable = true};
  sregs.gdt = {.base = VMD_BOOT_GDT_GPA, .limit = kGdtEntries * 8 - 1};
  // An empty IDT: a fault before the firmware loads its own is a triple fault.
  sregs.idt = {.base = 0, .limit = 0};
  sregs.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
  sregs.cr3 = kPml4Gpa;
  sregs.cr4 = kCr4Pae | kCr4Osfxsr | kCr4Osxmmexcpt;
  sregs.efer = kEferLme | kEferLma;

  entry.regs.rip = entry_gpa;
  entry.regs.rsp = VMD_STACKS_GPA + (uint64_t{vcpu_id} + 1) * VMD_STACK_BYTES;
  entry.regs.rdi = vcpu_id;
  entry.regs.rsi = VMD_BOOT_INFO_GPA;
  entry.regs.rflags = 0x2;  // bit 1 is always set; IF clear
  return entry;
}

hv::BootEntry FirmwareEntry(uint32_t vcpu_id) { return LongModeEntry(vcpu_id, kFirmwareEntryGpa); }

}  // namespace vmd::guest

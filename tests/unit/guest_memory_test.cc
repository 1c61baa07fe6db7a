// Guest memory: layouts with the MMIO hole, regions over one backing file,
// shared and private mappings of an existing file, writing it out with holes,
// and the dirty bitmap.
#include "backend/memory/guest_memory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "backend/memory/dirty_bitmap.h"

namespace vmd::hv {
namespace {

TEST(GuestMemoryTest, TheStandardLayoutLeavesTheMmioHoleFree) {
  EXPECT_EQ(StandardMemoryLayout(64ull << 20).size(), 1u);
  std::vector<MemoryRegionSpec> big = StandardMemoryLayout(5ull << 30);
  ASSERT_EQ(big.size(), 2u);
  EXPECT_EQ(big[0].gpa, 0u);
  EXPECT_EQ(big[0].size, kMmioHoleStart);
  EXPECT_EQ(big[1].gpa, kMmioHoleEnd);
  EXPECT_EQ(big[1].size, (5ull << 30) - kMmioHoleStart);
}

TEST(GuestMemoryTest, RegionsAreAddressedByGuestPhysicalAddress) {
  auto memory = GuestMemory::Create({{0, 1 << 20}, {4ull << 30, 1 << 20}});
  ASSERT_TRUE(memory.ok()) << memory.status();
  EXPECT_EQ((*memory)->size(), 2u << 20);
  EXPECT_TRUE((*memory)->Contains(0xfffff));
  EXPECT_FALSE((*memory)->Contains(1 << 20)) << "between the regions";
  EXPECT_TRUE((*memory)->Contains((4ull << 30) + 10));
  EXPECT_TRUE((*memory)->Slice((1 << 20) - 4, 8).empty()) << "a slice never spans regions";
  EXPECT_EQ((*memory)->regions()[1].file_offset, 1u << 20);
  EXPECT_FALSE(GuestMemory::Create({{0, 4096}, {0, 4096}}).ok()) << "overlapping regions";
  EXPECT_FALSE(GuestMemory::Create({{0, 100}}).ok()) << "not page-sized";
}

TEST(GuestMemoryTest, AFileMapsSharedOrPrivate) {
  auto memory = GuestMemory::Create({{0, 1 << 20}, {2 << 20, 1 << 20}});
  ASSERT_TRUE(memory.ok());
  std::memcpy((*memory)->Slice(0x1000, 4).data(), "abcd", 4);
  std::memcpy((*memory)->Slice((2 << 20) + 0x2000, 4).data(), "wxyz", 4);
  const std::string path = ::testing::TempDir() + "/vmd-memory-test." + std::to_string(getpid());
  unlink(path.c_str());
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  absl::StatusOr<uint64_t> written = (*memory)->WriteTo(fd);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(*written, 2 * 4096u) << "only the two non-zero pages";
  struct stat st {};
  fstat(fd, &st);
  EXPECT_EQ(static_cast<uint64_t>(st.st_size), 2u << 20);
  EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, 1u << 20) << "zero pages are holes";
  EXPECT_EQ((*memory)->WriteTo(fd).status().code(), absl::StatusCode::kFailedPrecondition) << "not empty";
  close(fd);

  const std::vector<MemoryRegionSpec> layout = {{0, 1 << 20}, {2 << 20, 1 << 20}};
  {
    auto clone = GuestMemory::FromFile(path, layout, MemoryMapping::kPrivate);
    ASSERT_TRUE(clone.ok()) << clone.status();
    EXPECT_EQ(std::memcmp((*clone)->Slice((2 << 20) + 0x2000, 4).data(), "wxyz", 4), 0);
    std::memcpy((*clone)->Slice(0x1000, 4).data(), "PRIV", 4);
  }
  {
    auto shared = GuestMemory::FromFile(path, layout, MemoryMapping::kShared);
    ASSERT_TRUE(shared.ok()) << shared.status();
    EXPECT_EQ(std::memcmp((*shared)->Slice(0x1000, 4).data(), "abcd", 4), 0) << "the private write stayed private";
    std::memcpy((*shared)->Slice(0x1000, 4).data(), "SHRD", 4);
  }
  auto again = GuestMemory::FromFile(path, layout, MemoryMapping::kPrivate);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(std::memcmp((*again)->Slice(0x1000, 4).data(), "SHRD", 4), 0) << "the shared write reached the file";
  EXPECT_EQ(GuestMemory::FromFile(path, {{0, 4u << 20}}, MemoryMapping::kPrivate).status().code(),
            absl::StatusCode::kInvalidArgument)
      << "a file shorter than the layout";
  unlink(path.c_str());
}

TEST(DirtyBitmapTest, MarksCountsAndWalksPagesPerRegion) {
  DirtyBitmap bitmap;
  bitmap.AddRegion(0, 1 << 20);
  bitmap.AddRegion(4ull << 30, 1 << 20);
  bitmap.MarkDirty(0x1ff8, 16);  // spans pages 1 and 2
  bitmap.MarkDirty((4ull << 30) + 0x5000, 1);
  bitmap.MarkDirty(2 << 20, 4096);  // outside every region
  EXPECT_EQ(bitmap.CountDirty(), 3u);
  EXPECT_TRUE(bitmap.IsDirty(0x1000));
  EXPECT_TRUE(bitmap.IsDirty(0x2000));
  EXPECT_FALSE(bitmap.IsDirty(0x3000));
  std::vector<uint64_t> pages;
  bitmap.ForEachDirtyPage([&](uint64_t gpa) { pages.push_back(gpa); });
  EXPECT_EQ(pages, (std::vector<uint64_t>{0x1000, 0x2000, (4ull << 30) + 0x5000}));
}

}  // namespace
}  // namespace vmd::hv

// Which guest pages were written, per memory region: one bit per 4 KiB page
// (KVM_GET_DIRTY_LOG's layout: bit i of word i / 64 is page i of the region).
#ifndef VMD_BACKEND_MEMORY_DIRTY_BITMAP_H_
#define VMD_BACKEND_MEMORY_DIRTY_BITMAP_H_

#include <cstdint>
#include <functional>
#include <vector>

namespace vmd::hv {

inline constexpr uint64_t kPageSize = 4096;

class DirtyBitmap {
 public:
  struct Region {
    uint64_t gpa = 0;
    uint64_t pages = 0;
    std::vector<uint64_t> words;  // ceil(pages / 64)
  };

  // Adds an all-clean region; returns its index.
  size_t AddRegion(uint64_t gpa, uint64_t bytes);
  Region& region(size_t i) { return regions_[i]; }
  const std::vector<Region>& regions() const { return regions_; }

  // Marks [gpa, gpa + len) dirty; addresses outside every region are ignored.
  void MarkDirty(uint64_t gpa, uint64_t len);
  bool IsDirty(uint64_t gpa) const;
  uint64_t CountDirty() const;
  // Calls `fn` with the guest-physical address of every dirty page, in order.
  void ForEachDirtyPage(const std::function<void(uint64_t gpa)>& fn) const;
  // ORs `other` (same layout) into this bitmap.
  void Merge(const DirtyBitmap& other);

 private:
  std::vector<Region> regions_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_MEMORY_DIRTY_BITMAP_H_

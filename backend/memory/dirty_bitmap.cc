#include "backend/memory/dirty_bitmap.h"

#include <algorithm>
#include <bit>

namespace vmd::hv {

size_t DirtyBitmap::AddRegion(uint64_t gpa, uint64_t bytes) {
  const uint64_t pages = (bytes + kPageSize - 1) / kPageSize;
  regions_.push_back({gpa, pages, std::vector<uint64_t>((pages + 63) / 64, 0)});
  return regions_.size() - 1;
}

void DirtyBitmap::MarkDirty(uint64_t gpa, uint64_t len) {
  if (len == 0) return;
  for (Region& r : regions_) {
    const uint64_t end = r.gpa + r.pages * kPageSize;
    if (gpa >= end || gpa + len <= r.gpa) continue;
    const uint64_t first = (std::max(gpa, r.gpa) - r.gpa) / kPageSize;
    const uint64_t last = (std::min(gpa + len, end) - 1 - r.gpa) / kPageSize;
    for (uint64_t p = first; p <= last; ++p) r.words[p / 64] |= uint64_t{1} << (p % 64);
  }
}

bool DirtyBitmap::IsDirty(uint64_t gpa) const {
  for (const Region& r : regions_) {
    if (gpa < r.gpa || gpa >= r.gpa + r.pages * kPageSize) continue;
    const uint64_t p = (gpa - r.gpa) / kPageSize;
    return (r.words[p / 64] >> (p % 64)) & 1;
  }
  return false;
}

uint64_t DirtyBitmap::CountDirty() const {
  uint64_t n = 0;
  for (const Region& r : regions_) {
    for (uint64_t w : r.words) n += static_cast<uint64_t>(std::popcount(w));
  }
  return n;
}

void DirtyBitmap::ForEachDirtyPage(const std::function<void(uint64_t gpa)>& fn) const {
  for (const Region& r : regions_) {
    for (size_t i = 0; i < r.words.size(); ++i) {
      for (uint64_t w = r.words[i]; w != 0; w &= w - 1) {
        fn(r.gpa + (i * 64 + static_cast<uint64_t>(std::countr_zero(w))) * kPageSize);
      }
    }
  }
}

void DirtyBitmap::Merge(const DirtyBitmap& other) {
  for (size_t i = 0; i < regions_.size() && i < other.regions_.size(); ++i) {
    for (size_t w = 0; w < regions_[i].words.size() && w < other.regions_[i].words.size(); ++w) {
      regions_[i].words[w] |= other.regions_[i].words[w];
    }
  }
}

}  // namespace vmd::hv

// Guest RAM: one or more regions of guest-physical memory, backed by one
// file descriptor (a new memfd, or an existing file such as a snapshot's
// memory file) laid out region after region, mapped shared or private
// (copy-on-write, so many clones can start from one file).
#ifndef VMD_BACKEND_MEMORY_GUEST_MEMORY_H_
#define VMD_BACKEND_MEMORY_GUEST_MEMORY_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace vmd::hv {

struct MemoryRegionSpec {
  uint64_t gpa = 0;
  uint64_t size = 0;  // a non-zero multiple of 4096
};

// The usual PC layout for `bytes` of RAM: below 3 GiB one region at 0;
// beyond that the rest starts at 4 GiB, leaving the 32-bit MMIO hole (LAPIC,
// IOAPIC, the VMX TSS pages, PCI BARs) free of RAM.
std::vector<MemoryRegionSpec> StandardMemoryLayout(uint64_t bytes);
inline constexpr uint64_t kMmioHoleStart = 3ull << 30;
inline constexpr uint64_t kMmioHoleEnd = 4ull << 30;

enum class MemoryMapping {
  kShared,   // MAP_SHARED: writes reach the backing file
  kPrivate,  // MAP_PRIVATE: copy-on-write; the backing file never changes
};

class GuestMemory {
 public:
  struct Region {
    uint64_t gpa;
    uint64_t size;
    uint64_t file_offset;  // where the region starts in the backing fd
    uint8_t* host;
  };

  // A new memfd of the layout's total size, mapped shared.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(std::vector<MemoryRegionSpec> layout);
  // An existing fd (dup'ed; the caller keeps its own) holding the regions
  // back to back from offset 0; it must be at least that long.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> FromFd(int fd, std::vector<MemoryRegionSpec> layout,
                                                             MemoryMapping mapping);
  // Opens `path` (read-only when private) and maps it as FromFd does.
  static absl::StatusOr<std::unique_ptr<GuestMemory>> FromFile(const std::string& path,
                                                               std::vector<MemoryRegionSpec> layout,
                                                               MemoryMapping mapping);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  const std::vector<Region>& regions() const { return regions_; }
  // All regions' bytes.
  uint64_t size() const { return size_; }
  // The backing fd.
  int fd() const { return fd_; }
  MemoryMapping mapping() const { return mapping_; }

  // Guest-physical range [gpa, gpa+len) as host memory; empty when it is not
  // inside one region.
  std::span<uint8_t> Slice(uint64_t gpa, uint64_t len) const;
  // Whether `gpa` is RAM (else an access there is MMIO).
  bool Contains(uint64_t gpa) const { return !Slice(gpa, 1).empty(); }

  // A naturally aligned object at a guest-physical address; nullptr when out
  // of range. The guest may write it concurrently: use atomic_ref or volatile
  // access for fields the guest changes.
  template <typename T>
  T* At(uint64_t gpa) const {
    std::span<uint8_t> s = Slice(gpa, sizeof(T));
    return s.empty() ? nullptr : reinterpret_cast<T*>(s.data());
  }

  // Writes every region, back to back, to the empty file `fd` from offset 0 (the layout
  // FromFd reads), leaving all-zero pages as holes. Returns the bytes
  // written. The guest must not run meanwhile.
  absl::StatusOr<uint64_t> WriteTo(int fd) const;

 private:
  GuestMemory(int fd, MemoryMapping mapping) : fd_(fd), mapping_(mapping) {}
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Map(int owned_fd, std::vector<MemoryRegionSpec> layout,
                                                          MemoryMapping mapping);
  int fd_;
  MemoryMapping mapping_;
  uint64_t size_ = 0;
  std::vector<Region> regions_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_MEMORY_GUEST_MEMORY_H_

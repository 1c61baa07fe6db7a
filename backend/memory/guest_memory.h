// Guest RAM backed by a memfd, so that later snapshots can map and share it.
#ifndef VMD_BACKEND_MEMORY_GUEST_MEMORY_H_
#define VMD_BACKEND_MEMORY_GUEST_MEMORY_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "absl/status/statusor.h"

namespace vmd::hv {

class GuestMemory {
 public:
  static absl::StatusOr<std::unique_ptr<GuestMemory>> Create(uint64_t size_bytes);
  ~GuestMemory();
  GuestMemory(const GuestMemory&) = delete;
  GuestMemory& operator=(const GuestMemory&) = delete;

  uint64_t size() const { return size_; }
  int fd() const { return fd_; }
  uint8_t* host_address() const { return base_; }

  // Guest-physical range [gpa, gpa+len) as host memory; empty when out of range.
  std::span<uint8_t> Slice(uint64_t gpa, uint64_t len) const;

  // A naturally aligned object at a guest-physical address; nullptr when out
  // of range. The guest may write it concurrently: use atomic_ref or volatile
  // access for fields the guest changes.
  template <typename T>
  T* At(uint64_t gpa) const {
    std::span<uint8_t> s = Slice(gpa, sizeof(T));
    return s.empty() ? nullptr : reinterpret_cast<T*>(s.data());
  }

 private:
  GuestMemory(int fd, uint8_t* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}
  int fd_;
  uint8_t* base_;
  uint64_t size_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_MEMORY_GUEST_MEMORY_H_

#include "backend/memory/guest_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vmd::hv {

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(uint64_t size_bytes) {
  if (size_bytes == 0 || size_bytes % 4096 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("guest memory size ", size_bytes, " is not a non-zero multiple of 4096"));
  }
  int fd = memfd_create("vmd-guest-ram", MFD_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "memfd_create");
  if (ftruncate(fd, static_cast<off_t>(size_bytes)) != 0) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, "ftruncate guest memory");
  }
  // MAP_NORESERVE: pages the guest never touches cost nothing.
  void* base = mmap(nullptr, size_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (base == MAP_FAILED) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, "mmap guest memory");
  }
  return std::unique_ptr<GuestMemory>(new GuestMemory(fd, static_cast<uint8_t*>(base), size_bytes));
}

GuestMemory::~GuestMemory() {
  munmap(base_, size_);
  close(fd_);
}

std::span<uint8_t> GuestMemory::Slice(uint64_t gpa, uint64_t len) const {
  if (gpa > size_ || len > size_ - gpa) return {};
  return {base_ + gpa, len};
}

}  // namespace vmd::hv

#include "backend/memory/guest_memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace vmd::hv {
namespace {

constexpr uint64_t kPage = 4096;

absl::Status CheckLayout(const std::vector<MemoryRegionSpec>& layout) {
  if (layout.empty()) return absl::InvalidArgumentError("guest memory needs at least one region");
  for (size_t i = 0; i < layout.size(); ++i) {
    const MemoryRegionSpec& r = layout[i];
    if (r.size == 0 || r.size % kPage != 0 || r.gpa % kPage != 0) {
      return absl::InvalidArgumentError(absl::StrCat("memory region ", i, " (gpa 0x", absl::Hex(r.gpa), ", ",
                                                     r.size, " bytes) is not page-aligned and non-empty"));
    }
    if (i > 0 && r.gpa < layout[i - 1].gpa + layout[i - 1].size) {
      return absl::InvalidArgumentError(
          absl::StrCat("memory region ", i, " overlaps or precedes region ", i - 1, ": regions go up in gpa"));
    }
  }
  return absl::OkStatus();
}

uint64_t TotalSize(const std::vector<MemoryRegionSpec>& layout) {
  uint64_t total = 0;
  for (const MemoryRegionSpec& r : layout) total += r.size;
  return total;
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; i += sizeof(uint64_t)) {
    uint64_t w;
    std::memcpy(&w, p + i, sizeof(w));
    if (w != 0) return false;
  }
  return true;
}

}  // namespace

std::vector<MemoryRegionSpec> StandardMemoryLayout(uint64_t bytes) {
  if (bytes <= kMmioHoleStart) return {{0, bytes}};
  return {{0, kMmioHoleStart}, {kMmioHoleEnd, bytes - kMmioHoleStart}};
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Create(std::vector<MemoryRegionSpec> layout) {
  if (absl::Status s = CheckLayout(layout); !s.ok()) return s;
  int fd = memfd_create("vmd-guest-ram", MFD_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, "memfd_create");
  if (ftruncate(fd, static_cast<off_t>(TotalSize(layout))) != 0) {
    int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, "ftruncate guest memory");
  }
  return Map(fd, std::move(layout), MemoryMapping::kShared);
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::FromFd(int fd, std::vector<MemoryRegionSpec> layout,
                                                                 MemoryMapping mapping) {
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return absl::ErrnoToStatus(errno, "dup of the guest memory fd");
  return Map(dup_fd, std::move(layout), mapping);
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::FromFile(const std::string& path,
                                                                   std::vector<MemoryRegionSpec> layout,
                                                                   MemoryMapping mapping) {
  const int flags = (mapping == MemoryMapping::kPrivate ? O_RDONLY : O_RDWR) | O_CLOEXEC;
  int fd = open(path.c_str(), flags);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open guest memory file ", path));
  return Map(fd, std::move(layout), mapping);
}

absl::StatusOr<std::unique_ptr<GuestMemory>> GuestMemory::Map(int owned_fd, std::vector<MemoryRegionSpec> layout,
                                                              MemoryMapping mapping) {
  std::unique_ptr<GuestMemory> memory(new GuestMemory(owned_fd, mapping));
  if (absl::Status s = CheckLayout(layout); !s.ok()) return s;
  struct stat st {};
  if (fstat(owned_fd, &st) != 0) return absl::ErrnoToStatus(errno, "fstat guest memory");
  const uint64_t total = TotalSize(layout);
  if (static_cast<uint64_t>(st.st_size) < total) {
    return absl::InvalidArgumentError(absl::StrCat("guest memory file holds ", st.st_size,
                                                   " bytes; the layout needs ", total));
  }
  // MAP_NORESERVE: pages the guest never touches cost nothing.
  const int flags = (mapping == MemoryMapping::kShared ? MAP_SHARED : MAP_PRIVATE) | MAP_NORESERVE;
  uint64_t offset = 0;
  for (const MemoryRegionSpec& spec : layout) {
    void* host = mmap(nullptr, spec.size, PROT_READ | PROT_WRITE, flags, owned_fd, static_cast<off_t>(offset));
    if (host == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap guest memory");
    memory->regions_.push_back({spec.gpa, spec.size, offset, static_cast<uint8_t*>(host)});
    offset += spec.size;
  }
  memory->size_ = total;
  return memory;
}

GuestMemory::~GuestMemory() {
  for (const Region& r : regions_) munmap(r.host, r.size);
  close(fd_);
}

std::span<uint8_t> GuestMemory::Slice(uint64_t gpa, uint64_t len) const {
  for (const Region& r : regions_) {
    if (gpa >= r.gpa && gpa - r.gpa <= r.size && len <= r.size - (gpa - r.gpa)) {
      return {r.host + (gpa - r.gpa), len};
    }
  }
  return {};
}

absl::StatusOr<uint64_t> GuestMemory::WriteTo(int fd) const {
  // Zero pages are skipped, so they must read back as zeros: a new file.
  struct stat st {};
  if (fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, "fstat memory file");
  if (st.st_size != 0) return absl::FailedPreconditionError("the memory file to write is not empty");
  if (ftruncate(fd, static_cast<off_t>(size_)) != 0) return absl::ErrnoToStatus(errno, "ftruncate memory file");
  constexpr uint64_t kChunk = 1ull << 20;
  uint64_t written = 0;
  for (const Region& r : regions_) {
    for (uint64_t pos = 0; pos < r.size; pos += kPage) {
      const uint8_t* page = r.host + pos;
      if (AllZero(page, kPage)) continue;
      // Extend the run of non-zero pages up to a chunk, then write it.
      uint64_t end = pos + kPage;
      while (end < r.size && end - pos < kChunk && !AllZero(r.host + end, kPage)) end += kPage;
      for (uint64_t done = 0; done < end - pos;) {
        ssize_t n = pwrite(fd, page + done, end - pos - done, static_cast<off_t>(r.file_offset + pos + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return absl::ErrnoToStatus(n < 0 ? errno : EIO, "write memory file");
        done += static_cast<uint64_t>(n);
      }
      written += end - pos;
      pos = end - kPage;
    }
  }
  return written;
}

}  // namespace vmd::hv

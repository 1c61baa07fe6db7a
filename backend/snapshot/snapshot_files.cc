#include "backend/snapshot/snapshot_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"

namespace vmd::snapshot {
namespace {

// Syncs `tmp`'s fd and renames it to `path`.
absl::Status Commit(int fd, const std::string& tmp, const std::string& path) {
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("fsync ", tmp));
  }
  if (close(fd) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("close ", tmp));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return absl::ErrnoToStatus(errno, absl::StrCat("rename ", tmp));
  return absl::OkStatus();
}

absl::StatusOr<int> CreateNew(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create ", path));
  return fd;
}

}  // namespace

absl::Status CheckSnapshotDir(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return absl::NotFoundError(absl::StrCat("dir: ", dir, " does not exist"));
  if (!std::filesystem::is_directory(dir, ec)) {
    return absl::FailedPreconditionError(absl::StrCat("dir: ", dir, " is not a directory"));
  }
  if (!std::filesystem::is_empty(dir, ec)) {
    return absl::AlreadyExistsError(absl::StrCat("dir: ", dir, " is not empty; a snapshot is never written over another"));
  }
  return absl::OkStatus();
}

std::string StatePath(const std::string& dir) { return absl::StrCat(dir, "/", kStateFile); }
std::string MemoryPath(const std::string& dir) { return absl::StrCat(dir, "/", kMemoryFile); }

absl::Status WriteState(const std::string& dir, const engine::v1::VmSnapshot& snapshot) {
  const std::string tmp = StatePath(dir) + ".tmp";
  absl::StatusOr<int> fd = CreateNew(tmp);
  if (!fd.ok()) return fd.status();
  if (!snapshot.SerializeToFileDescriptor(*fd)) {
    close(*fd);
    return absl::ResourceExhaustedError(absl::StrCat("cannot write ", tmp, " (disk full?)"));
  }
  return Commit(*fd, tmp, StatePath(dir));
}

absl::StatusOr<uint64_t> WriteMemory(const std::string& dir, const hv::GuestMemory& memory) {
  const std::string tmp = MemoryPath(dir) + ".tmp";
  absl::StatusOr<int> fd = CreateNew(tmp);
  if (!fd.ok()) return fd.status();
  absl::StatusOr<uint64_t> written = memory.WriteTo(*fd);
  if (!written.ok()) {
    close(*fd);
    return absl::Status(written.status().code(), absl::StrCat(tmp, ": ", written.status().message()));
  }
  if (absl::Status s = Commit(*fd, tmp, MemoryPath(dir)); !s.ok()) return s;
  return written;
}

absl::StatusOr<engine::v1::VmSnapshot> ReadState(const std::string& dir) {
  std::ifstream in(StatePath(dir), std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no snapshot state at ", StatePath(dir)));
  engine::v1::VmSnapshot snapshot;
  if (!snapshot.ParseFromIstream(&in)) {
    return absl::InvalidArgumentError(absl::StrCat(StatePath(dir), " is not a vmd.engine.v1.VmSnapshot"));
  }
  if (snapshot.format() != engine::v1::SNAPSHOT_FORMAT_1) {
    return absl::FailedPreconditionError(absl::StrCat(StatePath(dir), " has snapshot format ", snapshot.format(),
                                                      "; this engine reads format ", engine::v1::SNAPSHOT_FORMAT_1));
  }
  return snapshot;
}

std::vector<hv::MemoryRegionSpec> MemoryLayout(const engine::v1::VmSnapshot& snapshot) {
  std::vector<hv::MemoryRegionSpec> layout;
  for (const engine::v1::MemoryRegion& r : snapshot.memory()) layout.push_back({r.gpa(), r.size()});
  return layout;
}

}  // namespace vmd::snapshot

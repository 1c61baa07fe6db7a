// The files of a saved VM (Engine.SaveState): <dir>/state.pb, a
// vmd.engine.v1.VmSnapshot, and <dir>/memory, guest RAM regions back to back
// (zero pages left as holes). Both are written to temporary names, synced,
// then renamed, so a reader never sees half a snapshot.
#ifndef VMD_BACKEND_SNAPSHOT_SNAPSHOT_FILES_H_
#define VMD_BACKEND_SNAPSHOT_SNAPSHOT_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/memory/guest_memory.h"
#include "vmd/engine/v1/vm_snapshot.pb.h"

namespace vmd::snapshot {

inline constexpr char kStateFile[] = "state.pb";
inline constexpr char kMemoryFile[] = "memory";

std::string StatePath(const std::string& dir);
std::string MemoryPath(const std::string& dir);

// OK when `dir` is an existing, empty directory: a snapshot is written
// only there, never over another (ALREADY_EXISTS), nor into nothing
// (NOT_FOUND, FAILED_PRECONDITION).
absl::Status CheckSnapshotDir(const std::string& dir);

absl::Status WriteState(const std::string& dir, const engine::v1::VmSnapshot& snapshot);
// Returns the bytes of guest memory written (holes not counted).
absl::StatusOr<uint64_t> WriteMemory(const std::string& dir, const hv::GuestMemory& memory);

// FAILED_PRECONDITION for a format this engine does not know.
absl::StatusOr<engine::v1::VmSnapshot> ReadState(const std::string& dir);
// The memory layout the snapshot was taken with.
std::vector<hv::MemoryRegionSpec> MemoryLayout(const engine::v1::VmSnapshot& snapshot);

}  // namespace vmd::snapshot

#endif  // VMD_BACKEND_SNAPSHOT_SNAPSHOT_FILES_H_

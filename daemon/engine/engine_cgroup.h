// Each engine's cgroup v2: <parent>/<vm id>, where the parent is
// <vmd's own cgroup>/vmd-engines unless vmd is given another
// (--engine-cgroup-parent). The VM's cgroup caps its engine at the guest's
// memory plus kEngineMemoryOverheadMib (memory.max) and at its vCPUs' worth
// of CPU time (cpu.max). vmd spawns the engine straight into it
// (CLONE_INTO_CGROUP, engine_spawn.h), so nothing the engine allocates is
// ever charged elsewhere.
//
// A host without a writable cgroup v2 hierarchy, or whose hierarchy does not
// offer the memory and cpu controllers (a host in hybrid mode keeps them on
// cgroup v1), does not stop vmd: the layer is reported not in force, with
// the reason, in GetHostInfo; engines still get a cgroup of their own where
// the hierarchy is writable.
#ifndef VMD_DAEMON_ENGINE_ENGINE_CGROUP_H_
#define VMD_DAEMON_ENGINE_ENGINE_CGROUP_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "vmd/v1/host.pb.h"

namespace vmd::daemon {

// What an engine needs beside guest memory, measured on this build: ~10 MiB
// resident for its code, gRPC's threads and buffers, the vCPU threads' stacks
// and the dirty bitmaps, plus the page cache of the console and engine logs
// (charged to the cgroup that writes them). Generous, so that a limit is
// never the reason an engine dies.
inline constexpr uint64_t kEngineMemoryOverheadMib = 64;
// cpu.max's period: the quota is vcpus times this.
inline constexpr uint64_t kCpuPeriodUs = 100000;

struct CgroupLimits {
  uint64_t memory_max_bytes = 0;
  uint64_t cpu_quota_us = 0;  // per kCpuPeriodUs
};
CgroupLimits EngineLimits(uint64_t memory_mib, uint32_t vcpus);

// Where the cgroup v2 hierarchy is mounted, from /proc/self/mountinfo.
absl::StatusOr<std::string> Cgroup2Mount();

class EngineCgroups {
 public:
  // <cgroup2 mount><vmd's cgroup>/vmd-engines, from /proc/self/mountinfo and
  // /proc/self/cgroup.
  static absl::StatusOr<std::string> DefaultParent();
  // Creates `parent` if needed and enables the memory and cpu controllers
  // for the engines' cgroups. Never fails: layer() says what works.
  explicit EngineCgroups(std::string parent);
  // Off: no engine gets a cgroup (vmd --no-sandbox, or no cgroup v2 at all).
  static EngineCgroups Disabled(std::string reason);

  // Engines are put in cgroups of their own.
  bool placing() const { return placing_; }
  // ...with their memory and CPU limits.
  bool limiting() const { return layer_.in_force(); }
  const v1::SandboxLayer& layer() const { return layer_; }
  const std::string& parent() const { return parent_; }
  std::string PathFor(const std::string& vm_id) const { return parent_ + "/" + vm_id; }

  // Creates (or reuses) the VM's cgroup, writes its limits when limiting(),
  // and returns an fd of its directory for CLONE_INTO_CGROUP (the
  // caller closes it).
  absl::StatusOr<int> Create(const std::string& vm_id, const CgroupLimits& limits) const;

 private:
  EngineCgroups() = default;

  std::string parent_;
  bool placing_ = false;
  v1::SandboxLayer layer_;
};

// Removes an engine's cgroup once the engine is gone (it may stay busy for a
// moment while the exit completes; one a new engine of the VM already uses
// stays).
void RemoveEngineCgroup(const std::string& path);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_CGROUP_H_

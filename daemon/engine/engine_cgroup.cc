#include "daemon/engine/engine_cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace vmd::daemon {
namespace {

// The controllers an engine's limits need.
const std::vector<std::string> kControllers = {"memory", "cpu"};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Writes `value` to an existing cgroup interface file (never creates one).
absl::Status WriteInterfaceFile(const std::string& path, const std::string& value) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = errno;
  close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    return absl::ErrnoToStatus(err, absl::StrCat("write \"", value, "\" to ", path));
  }
  return absl::OkStatus();
}

// The controllers of kControllers that `dir`/cgroup.controllers lacks.
std::vector<std::string> MissingControllers(const std::string& dir) {
  std::vector<std::string> offered = absl::StrSplit(ReadFile(dir + "/cgroup.controllers"), absl::ByAnyChar(" \n"),
                                                    absl::SkipEmpty());
  std::vector<std::string> missing;
  for (const std::string& c : kControllers) {
    if (std::find(offered.begin(), offered.end(), c) == offered.end()) missing.push_back(c);
  }
  return missing;
}

// "+memory +cpu" for cgroup.subtree_control.
std::string Enable(const std::vector<std::string>& controllers) {
  std::vector<std::string> plus;
  for (const std::string& c : controllers) plus.push_back("+" + c);
  return absl::StrJoin(plus, " ");
}

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

CgroupLimits EngineLimits(uint64_t memory_mib, uint32_t vcpus) {
  return {.memory_max_bytes = (memory_mib + kEngineMemoryOverheadMib) << 20,
          .cpu_quota_us = uint64_t{vcpus} * kCpuPeriodUs};
}

absl::StatusOr<std::string> Cgroup2Mount() {
  // mountinfo: "id parent major:minor root mount-point options ... - fstype source super-options".
  std::istringstream mounts(ReadFile("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    auto dash = std::find(fields.begin(), fields.end(), "-");
    if (fields.size() > 4 && dash != fields.end() && dash + 1 != fields.end() && *(dash + 1) == "cgroup2") {
      return fields[4];
    }
  }
  return absl::NotFoundError("no cgroup v2 hierarchy is mounted");
}

absl::StatusOr<std::string> EngineCgroups::DefaultParent() {
  absl::StatusOr<std::string> mount = Cgroup2Mount();
  if (!mount.ok()) return mount.status();
  // /proc/self/cgroup: "0::/path" is the cgroup v2 line.
  std::istringstream cgroups(ReadFile("/proc/self/cgroup"));
  for (std::string line; std::getline(cgroups, line);) {
    if (absl::StartsWith(line, "0::")) {
      std::string own = line.substr(3);
      return absl::StrCat(*mount, own == "/" ? "" : own, "/vmd-engines");
    }
  }
  return absl::NotFoundError("/proc/self/cgroup names no cgroup v2 for vmd");
}

EngineCgroups EngineCgroups::Disabled(std::string reason) {
  EngineCgroups off;
  off.layer_.set_kind(v1::SANDBOX_LAYER_KIND_CGROUP);
  off.layer_.set_reason(std::move(reason));
  return off;
}

EngineCgroups::EngineCgroups(std::string parent) : parent_(std::move(parent)) {
  layer_.set_kind(v1::SANDBOX_LAYER_KIND_CGROUP);
  if (mkdir(parent_.c_str(), 0755) != 0 && errno != EEXIST) {
    layer_.set_reason(absl::StrCat("cannot create the engines' cgroup parent ", parent_, ": ", strerror(errno),
                                   " (no writable cgroup v2 hierarchy)"));
    return;
  }
  placing_ = true;
  // cgroup v2 hands a controller to a cgroup's children only through the
  // parent's cgroup.subtree_control, and only if the parent has it itself.
  std::vector<std::string> missing = MissingControllers(parent_);
  if (!missing.empty()) {
    const std::string above = Dirname(parent_);
    std::vector<std::string> not_offered = MissingControllers(above);
    if (!not_offered.empty()) {
      layer_.set_reason(absl::StrCat("engines get a cgroup of their own under ", parent_, " but no limits: the cgroup v2 "
                                     "hierarchy does not offer the ", absl::StrJoin(not_offered, ", "),
                                     " controller(s) to ", above, " (a host in hybrid mode keeps them on cgroup v1)"));
      return;
    }
    if (absl::Status s = WriteInterfaceFile(above + "/cgroup.subtree_control", Enable(missing)); !s.ok()) {
      // EBUSY: a non-root cgroup with processes of its own cannot hand
      // domain controllers down (cgroup v2's no-internal-processes rule).
      layer_.set_reason(absl::StrCat("engines get a cgroup of their own under ", parent_, " but no limits: ",
                                     s.message(), "; give vmd a delegated cgroup with --engine-cgroup-parent"));
      return;
    }
  }
  if (absl::Status s = WriteInterfaceFile(parent_ + "/cgroup.subtree_control", Enable(kControllers)); !s.ok()) {
    layer_.set_reason(absl::StrCat("engines get a cgroup of their own under ", parent_, " but no limits: ", s.message()));
    return;
  }
  layer_.set_in_force(true);
  layer_.set_detail(absl::StrCat(parent_, "/<vm id>: memory.max = guest memory + ", kEngineMemoryOverheadMib,
                                 " MiB, cpu.max = vcpus x ", kCpuPeriodUs, " us per ", kCpuPeriodUs, " us"));
}

absl::StatusOr<int> EngineCgroups::Create(const std::string& vm_id, const CgroupLimits& limits) const {
  const std::string dir = PathFor(vm_id);
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    return absl::ErrnoToStatus(errno, absl::StrCat("create cgroup ", dir));
  }
  if (limiting()) {
    for (absl::Status s : {WriteInterfaceFile(dir + "/memory.max", absl::StrCat(limits.memory_max_bytes)),
                           WriteInterfaceFile(dir + "/cpu.max", absl::StrCat(limits.cpu_quota_us, " ", kCpuPeriodUs))}) {
      if (!s.ok()) return s;
    }
  }
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open cgroup ", dir));
  return fd;
}

void RemoveEngineCgroup(const std::string& path) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    if (rmdir(path.c_str()) == 0 || errno == ENOENT) return;
    if (errno != EBUSY) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace vmd::daemon

#include "backend/engine/sandbox.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>

#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "backend/engine/seccomp_allowlist.h"

#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000  // <linux/fcntl.h>: apply to the whole subtree
#endif

namespace vmd::engine {
namespace {

absl::Status Errno(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

// mount_setattr(2) on the mount at `path` and every mount below it.
absl::Status SetMountAttr(const std::string& path, uint64_t set, uint64_t clear) {
  mount_attr attr{.attr_set = set, .attr_clr = clear};
  if (mount_setattr(AT_FDCWD, path.c_str(), AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    return Errno(absl::StrCat("mount_setattr ", path));
  }
  return absl::OkStatus();
}

}  // namespace

SandboxMounts MountsFor(const v1::EngineConfig& config) {
  SandboxMounts mounts = {.writable = {config.runtime_dir()}};
  if (config.has_restore()) {
    (config.restore().memory_mapping() == v1::MEMORY_MAPPING_SHARED ? mounts.writable : mounts.readable)
        .push_back(config.restore().snapshot_dir());
  }
  mounts.hidden.assign(config.sandbox().hidden_dirs().begin(), config.sandbox().hidden_dirs().end());
  return mounts;
}

absl::Status SetNoNewPrivs() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return Errno("prctl(PR_SET_NO_NEW_PRIVS)");
  return absl::OkStatus();
}

absl::Status EnterPrivateMountNamespace(const SandboxMounts& mounts) {
  if (unshare(CLONE_NEWNS) != 0) return Errno("unshare(CLONE_NEWNS)");
  // Mounts are shared with vmd's namespace by default (systemd makes / a
  // shared mount): make ours private first, so that nothing done here
  // propagates back to the host.
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return Errno("mount / private");

  // The dirs to keep, held open: once a hidden dir is covered their paths
  // lead into the empty tmpfs, but /proc/self/fd/N still names the dir
  // itself, to bind back.
  struct Kept {
    std::string path;
    int fd;
  };
  std::vector<Kept> kept;
  auto close_kept = [&kept] {
    for (const Kept& k : kept) close(k.fd);
  };
  for (const std::vector<std::string>* dirs : {&mounts.writable, &mounts.readable}) {
    for (const std::string& dir : *dirs) {
      int fd = open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
      if (fd < 0) {
        absl::Status s = Errno(absl::StrCat("open ", dir));
        close_kept();
        return s;
      }
      kept.push_back({dir, fd});
    }
  }
  absl::Status s = [&]() -> absl::Status {
    for (const std::string& dir : mounts.hidden) {
      if (mount("vmd-hidden", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") != 0) {
        return Errno(absl::StrCat("cover ", dir));
      }
    }
    // Each kept dir bound onto its own path (recreated where a tmpfs now
    // covers it): a mount of its own, whose read-only flag can be cleared
    // again after the whole tree is made read-only (per-mount flags; the
    // superblocks stay as they are for vmd).
    for (const Kept& k : kept) {
      std::error_code ec;
      std::filesystem::create_directories(k.path, ec);
      const std::string source = absl::StrCat("/proc/self/fd/", k.fd);
      if (mount(source.c_str(), k.path.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
        return Errno(absl::StrCat("bind mount ", k.path));
      }
    }
    if (absl::Status s = SetMountAttr("/", MOUNT_ATTR_RDONLY, 0); !s.ok()) return s;
    for (const std::string& dir : mounts.writable) {
      if (absl::Status s = SetMountAttr(dir, 0, MOUNT_ATTR_RDONLY); !s.ok()) return s;
    }
    return absl::OkStatus();
  }();
  close_kept();
  // Device nodes on a read-only mount still open read-write (EROFS is for
  // files, not devices), so /dev/kvm keeps working.
  return s;
}

absl::Status DropAllCapabilities() {
  // The bounding set first: dropping from it needs CAP_SETPCAP, which the
  // last step takes away.
  for (cap_value_t cap = 0; cap < static_cast<cap_value_t>(cap_max_bits()); ++cap) {
    if (cap_drop_bound(cap) != 0) return Errno(absl::StrCat("drop capability ", cap, " from the bounding set"));
  }
  if (cap_reset_ambient() != 0) return Errno("clear the ambient capabilities");
  cap_t none = cap_init();
  if (none == nullptr) return Errno("cap_init");
  const int rc = cap_set_proc(none);
  const int err = errno;
  cap_free(none);
  if (rc != 0) return absl::ErrnoToStatus(err, "clear the effective, permitted and inheritable capabilities");
  return absl::OkStatus();
}

absl::Status EnterSandbox(const v1::SandboxConfig& sandbox, const SandboxMounts& mounts) {
  if (sandbox.no_new_privs()) {
    if (absl::Status s = SetNoNewPrivs(); !s.ok()) return s;
  }
  // Before the capability drop: it needs CAP_SYS_ADMIN.
  if (sandbox.mount_namespace()) {
    if (absl::Status s = EnterPrivateMountNamespace(mounts); !s.ok()) return s;
  }
  if (sandbox.drop_capabilities()) {
    if (absl::Status s = DropAllCapabilities(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status LockSandbox(const v1::SandboxConfig& sandbox) {
  return sandbox.seccomp() ? LoadSeccompAllowList() : absl::OkStatus();
}

}  // namespace vmd::engine

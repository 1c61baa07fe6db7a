// The part of the engine sandbox the engine applies to itself, as its
// EngineConfig.sandbox asks: no_new_privs, every capability dropped, a
// private mount namespace where only its runtime dir stays writable, and a
// seccomp allow-list (seccomp_allowlist.h). vmd's part -- a clean
// environment and a cgroup of its own -- is done when it spawns the engine
// (daemon/engine/engine_spawn.h, engine_cgroup.h).
//
// Two steps, because the kernel applies most layers to one thread only:
// capset(2) changes the calling thread's sets, unshare(CLONE_NEWNS) moves
// only the calling thread into the new namespace, and PR_SET_NO_NEW_PRIVS is
// a per-thread bit; threads created afterwards inherit all three. So
// EnterSandbox runs first thing in main, while the engine has one thread.
// The seccomp filter goes last (LockSandbox), once the VM is built and the
// socket bound, and reaches the threads that exist by then through
// SECCOMP_FILTER_FLAG_TSYNC.
#ifndef VMD_BACKEND_ENGINE_SANDBOX_H_
#define VMD_BACKEND_ENGINE_SANDBOX_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "vmd/engine/v1/engine_config.pb.h"

namespace vmd::engine {

// What a sandboxed engine sees of the file system: everything read-only but
// `writable`; nothing of `hidden` but what `writable` and `readable` put
// back.
struct SandboxMounts {
  std::vector<std::string> writable;
  std::vector<std::string> readable;
  std::vector<std::string> hidden;
};
// From the config: the runtime dir writable; a restore's snapshot dir
// writable when guest memory writes through to its file, else readable;
// sandbox.hidden_dirs hidden.
SandboxMounts MountsFor(const v1::EngineConfig& config);

// no_new_privs, the mount namespace and the capability drop, each if asked.
// Requires a single-threaded process. Any failure is the engine's end: a
// layer vmd asked for is never silently skipped.
absl::Status EnterSandbox(const v1::SandboxConfig& sandbox, const SandboxMounts& mounts);
// The seccomp allow-list, if asked. Nothing after it may need a syscall
// outside the list.
absl::Status LockSandbox(const v1::SandboxConfig& sandbox);

// The layers one by one (EnterSandbox and LockSandbox are made of them).
absl::Status SetNoNewPrivs();
// Every mount read-only, the hidden dirs covered, the writable dirs
// bind-mounted writable.
absl::Status EnterPrivateMountNamespace(const SandboxMounts& mounts);
// Bounding, ambient, effective, permitted and inheritable sets emptied.
absl::Status DropAllCapabilities();

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_SANDBOX_H_

// The seccomp allow-list of a running engine: every syscall (and, for
// ioctl, every request number) the engine makes once its VM is built and
// its socket bound, on kvm and sim, with every workload and engine RPC.
// Anything else kills the whole engine (SECCOMP_RET_KILL_PROCESS), whose
// exit vmd then reports as "killed by signal 31 (Bad system call)".
#ifndef VMD_BACKEND_ENGINE_SECCOMP_ALLOWLIST_H_
#define VMD_BACKEND_ENGINE_SECCOMP_ALLOWLIST_H_

#include <cstddef>

#include "absl/status/status.h"

namespace vmd::engine {

// Compiles the list and loads it into every thread of the process
// (SECCOMP_FILTER_FLAG_TSYNC); sets no_new_privs on the way, which the
// kernel requires of an unprivileged filter.
absl::Status LoadSeccompAllowList();

// How many syscalls the list allows, and how many ioctl request numbers.
size_t SeccompAllowedSyscalls();
size_t SeccompAllowedIoctls();

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_SECCOMP_ALLOWLIST_H_

// What CreateVm fills in for a VmSpec field left unset (vm.proto documents
// each): the one place these defaults are applied.
#ifndef VMD_DAEMON_CORE_VM_SPEC_DEFAULTS_H_
#define VMD_DAEMON_CORE_VM_SPEC_DEFAULTS_H_

#include <cstdint>

#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

inline constexpr uint32_t kDefaultVcpus = 1;
// The firmware needs 16 MiB (kMinMemoryMib); a guest that does real work
// needs more, and untouched guest pages cost the host nothing.
inline constexpr uint64_t kDefaultMemoryMib = 256;
inline constexpr char kDefaultWorkload[] = "idle";

// `spec` with vcpus, memory_mib, backend and workload set where unset.
v1::VmSpec WithDefaults(v1::VmSpec spec);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_SPEC_DEFAULTS_H_

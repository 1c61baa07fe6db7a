// What this host offers, as `vmd-engine --probe-host` prints it for vmd
// (vmd never opens /dev/kvm itself).
#ifndef VMD_BACKEND_HOST_PROBE_H_
#define VMD_BACKEND_HOST_PROBE_H_

#include <string>

namespace vmd::engine {

// JSON: {"backends":[{"name","usable","reason","max_vcpus"}...],
// "auto_backend", "max_memory_mib", "sim_profiles":[{"name","description"}],
// "default_sim_profile"}.
std::string ProbeHostJson();

}  // namespace vmd::engine

#endif  // VMD_BACKEND_HOST_PROBE_H_

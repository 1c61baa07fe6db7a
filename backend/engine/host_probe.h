// What this host offers, as `vmd-engine --probe-host` prints it for vmd
// (vmd never opens /dev/kvm itself): a vmd.engine.v1.HostProbe.
#ifndef VMD_BACKEND_ENGINE_HOST_PROBE_H_
#define VMD_BACKEND_ENGINE_HOST_PROBE_H_

#include <string>

#include "vmd/engine/v1/host_probe.pb.h"

namespace vmd::engine {

v1::HostProbe ProbeHost();
// ProbeHost() in canonical JSON, one line.
std::string ProbeHostJson();

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_HOST_PROBE_H_

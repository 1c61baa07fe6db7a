// Whether this host lets an engine apply its own sandbox layers
// (sandbox.h): tried for real in a child of `vmd-engine --probe-host`, since
// none of them can be undone. vmd asks its engines for the layers that
// passed and reports the rest, with the reason, in GetHostInfo.
#ifndef VMD_BACKEND_ENGINE_SANDBOX_PROBE_H_
#define VMD_BACKEND_ENGINE_SANDBOX_PROBE_H_

#include <vector>

#include "vmd/v1/host.pb.h"

namespace vmd::engine {

// One entry per engine-side layer: no_new_privs, mount namespace,
// capabilities, seccomp. Call from a single-threaded process.
std::vector<vmd::v1::SandboxLayer> ProbeSandboxLayers();

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_SANDBOX_PROBE_H_

// What this host offers, learnt once at start from `vmd-engine --probe-host`
// (vmd itself never opens /dev/kvm).
#ifndef VMD_DAEMON_HOST_HOST_INVENTORY_H_
#define VMD_DAEMON_HOST_HOST_INVENTORY_H_

#include <string>

#include "absl/status/statusor.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

absl::StatusOr<v1::HostInfo> ProbeHost(const std::string& engine_path);
// The backend a VM runs on here: its own choice, or what auto picks ("kvm"
// or "sim").
std::string EffectiveBackend(const v1::VmSpec& spec, const v1::HostInfo& host);

// Parses the probe's JSON (exposed for tests).
absl::StatusOr<v1::HostInfo> ParseHostProbe(const std::string& json_text);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_HOST_HOST_INVENTORY_H_

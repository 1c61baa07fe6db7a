#include "daemon/host/host_inventory.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "backend/rpc/proto_json.h"
#include "vmd/engine/v1/host_probe.pb.h"

namespace vmd::daemon {

std::string EffectiveBackend(const v1::VmSpec& spec, const v1::HostInfo& host) {
  switch (spec.backend()) {
    case v1::BACKEND_KVM: return "kvm";
    case v1::BACKEND_SIM: return "sim";
    default: return host.auto_backend();
  }
}

absl::StatusOr<v1::HostInfo> ParseHostProbe(const std::string& json_text) {
  engine::v1::HostProbe probe;
  if (absl::Status s = rpc::FromJson(json_text, &probe); !s.ok()) {
    return absl::InternalError(absl::StrCat("host probe: ", s.message()));
  }
  if (probe.api_version() != engine::v1::API_VERSION_1) {
    return absl::FailedPreconditionError(absl::StrCat("host probe: the engine speaks API version ",
                                                      probe.api_version(), "; this vmd speaks ",
                                                      engine::v1::API_VERSION_1));
  }
  v1::HostInfo host;
  host.set_version(VMD_VERSION);
  *host.mutable_backends() = probe.backends();
  host.set_auto_backend(probe.auto_backend());
  for (const v1::BackendInfo& b : host.backends()) {
    if (b.name() == host.auto_backend()) host.mutable_limits()->set_max_vcpus(b.max_vcpus());
  }
  host.mutable_limits()->set_max_memory_mib(probe.max_memory_mib());
  *host.mutable_sim_profiles() = probe.sim_profiles();
  host.set_default_sim_profile(probe.default_sim_profile());
  host.set_cpu_vendor(probe.cpu_vendor());
  *host.mutable_pmu() = probe.pmu();
  // The engine's own layers as probed; vmd completes the picture
  // (SandboxPlan) before it serves it.
  *host.mutable_engine_sandbox()->mutable_layers() = probe.sandbox_layers();
  return host;
}

absl::StatusOr<v1::HostInfo> ProbeHost(const std::string& engine_path) {
  std::string command = absl::StrCat("'", engine_path, "' --probe-host");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("host probe: cannot run ", engine_path));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int rc = pclose(pipe);
  if (rc != 0) return absl::InternalError(absl::StrCat("host probe: ", engine_path, " --probe-host failed (", rc, ")"));
  return ParseHostProbe(out);
}

}  // namespace vmd::daemon

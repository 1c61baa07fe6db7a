// vmd's side of the engine sandbox: whether it is on (vmd --no-sandbox turns
// it off), which layers the engines apply to themselves (those the host
// probe found this host allows, backend/engine/sandbox_probe.h), vmd's own
// part when it spawns an engine (an empty environment, a cgroup of its own:
// engine_cgroup.h), and the EngineSandbox that GetHostInfo reports.
#ifndef VMD_DAEMON_ENGINE_SANDBOX_PLAN_H_
#define VMD_DAEMON_ENGINE_SANDBOX_PLAN_H_

#include <optional>
#include <string>
#include <vector>

#include "daemon/engine/engine_cgroup.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "vmd/engine/v1/engine_config.pb.h"
#include "vmd/v1/host.pb.h"

namespace vmd::daemon {

class SandboxPlan {
 public:
  // vmd --no-sandbox (and the default for in-process tests): engines run as
  // vmd's children always did.
  static SandboxPlan Off();
  // `engine_layers`: what the host probe found the engine can apply here.
  static SandboxPlan On(const google::protobuf::RepeatedPtrField<v1::SandboxLayer>& engine_layers,
                        EngineCgroups cgroups);

  bool enabled() const { return enabled_; }
  // What an engine's config asks it to apply.
  const engine::v1::SandboxConfig& engine_config() const { return engine_config_; }
  // The engine's whole environment; nullopt: vmd's own.
  std::optional<std::vector<std::string>> environment() const;
  const EngineCgroups& cgroups() const { return cgroups_; }
  // Every layer, in force or not and why, for GetHostInfo.
  const v1::EngineSandbox& report() const { return report_; }

 private:
  explicit SandboxPlan(EngineCgroups cgroups) : cgroups_(std::move(cgroups)) {}

  bool enabled_ = false;
  engine::v1::SandboxConfig engine_config_;
  EngineCgroups cgroups_;
  v1::EngineSandbox report_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_SANDBOX_PLAN_H_

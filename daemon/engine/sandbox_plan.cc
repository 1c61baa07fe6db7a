#include "daemon/engine/sandbox_plan.h"

#include <algorithm>

namespace vmd::daemon {
namespace {

constexpr v1::SandboxLayerKind kEngineLayers[] = {
    v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS, v1::SANDBOX_LAYER_KIND_SECCOMP, v1::SANDBOX_LAYER_KIND_CAPABILITIES,
    v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE};

void Sort(v1::EngineSandbox& report) {
  std::sort(report.mutable_layers()->begin(), report.mutable_layers()->end(),
            [](const v1::SandboxLayer& a, const v1::SandboxLayer& b) { return a.kind() < b.kind(); });
}

}  // namespace

SandboxPlan SandboxPlan::Off() {
  SandboxPlan plan(EngineCgroups::Disabled("vmd --no-sandbox"));
  for (int kind = v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS; kind <= v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE; ++kind) {
    v1::SandboxLayer* layer = plan.report_.add_layers();
    layer->set_kind(static_cast<v1::SandboxLayerKind>(kind));
    layer->set_reason("vmd --no-sandbox");
  }
  return plan;
}

SandboxPlan SandboxPlan::On(const google::protobuf::RepeatedPtrField<v1::SandboxLayer>& engine_layers,
                            EngineCgroups cgroups) {
  SandboxPlan plan(std::move(cgroups));
  plan.enabled_ = true;
  plan.report_.set_enabled(true);
  for (v1::SandboxLayerKind kind : kEngineLayers) {
    auto probed = std::find_if(engine_layers.begin(), engine_layers.end(),
                               [kind](const v1::SandboxLayer& l) { return l.kind() == kind; });
    v1::SandboxLayer* layer = plan.report_.add_layers();
    if (probed != engine_layers.end()) {
      *layer = *probed;
    } else {
      layer->set_kind(kind);
      layer->set_reason("the engine's host probe does not report it");
    }
    const bool on = layer->in_force();
    switch (kind) {
      case v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS: plan.engine_config_.set_no_new_privs(on); break;
      case v1::SANDBOX_LAYER_KIND_SECCOMP: plan.engine_config_.set_seccomp(on); break;
      case v1::SANDBOX_LAYER_KIND_CAPABILITIES: plan.engine_config_.set_drop_capabilities(on); break;
      case v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE: plan.engine_config_.set_mount_namespace(on); break;
      default: break;
    }
  }
  v1::SandboxLayer* env = plan.report_.add_layers();
  env->set_kind(v1::SANDBOX_LAYER_KIND_CLEAN_ENVIRONMENT);
  env->set_in_force(true);
  env->set_detail("engines start with an empty environment");
  *plan.report_.add_layers() = plan.cgroups_.layer();
  Sort(plan.report_);
  return plan;
}

std::optional<std::vector<std::string>> SandboxPlan::environment() const {
  if (!enabled_) return std::nullopt;
  return std::vector<std::string>{};
}

}  // namespace vmd::daemon

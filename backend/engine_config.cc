#include "backend/engine_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vmd::engine {
namespace {

using nlohmann::json;

// Reads `key` into `out` if present; a value of the wrong type is an error.
template <typename T>
absl::Status Read(const json& j, const char* key, T& out) {
  auto it = j.find(key);
  if (it == j.end()) return absl::OkStatus();
  try {
    out = it->get<T>();
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("config field '", key, "': ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<EngineConfig> ParseEngineConfig(const std::string& json_text) {
  json j = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("config: not a JSON object");
  }
  EngineConfig c;
  for (absl::Status s : {Read(j, "vm_id", c.vm_id), Read(j, "name", c.name), Read(j, "vcpus", c.vcpus),
                         Read(j, "memory_mib", c.memory_mib), Read(j, "backend", c.backend),
                         Read(j, "sim_profile", c.sim_profile), Read(j, "workload", c.workload),
                         Read(j, "heartbeat_ms", c.heartbeat_ms), Read(j, "runtime_dir", c.runtime_dir)}) {
    if (!s.ok()) return s;
  }
  if (auto it = j.find("msr_policy"); it != j.end()) {
    if (!it->is_object()) return absl::InvalidArgumentError("config field 'msr_policy': must be an object");
    c.msr_policy_json = it->dump();
  }
  if (c.vcpus == 0) return absl::InvalidArgumentError("config field 'vcpus': must be at least 1");
  if (c.memory_mib < 16) return absl::InvalidArgumentError("config field 'memory_mib': must be at least 16");
  if (c.backend != "auto" && c.backend != "kvm" && c.backend != "sim") {
    return absl::InvalidArgumentError("config field 'backend': must be auto, kvm or sim");
  }
  if (c.workload != "idle" && c.workload != "counter" && c.workload != "probe") {
    return absl::InvalidArgumentError("config field 'workload': must be idle, counter or probe");
  }
  if (c.heartbeat_ms == 0) return absl::InvalidArgumentError("config field 'heartbeat_ms': must be positive");
  if (c.vm_id.empty()) c.vm_id = c.name.empty() ? "standalone" : c.name;
  return c;
}

absl::StatusOr<EngineConfig> LoadEngineConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("config: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<EngineConfig> c = ParseEngineConfig(text.str());
  if (c.ok() && c->runtime_dir.empty()) {
    c->runtime_dir = std::filesystem::absolute(path).parent_path().string();
  }
  return c;
}

std::string EngineConfigToJson(const EngineConfig& c) {
  json j = {{"vm_id", c.vm_id},         {"name", c.name},           {"vcpus", c.vcpus},
            {"memory_mib", c.memory_mib}, {"backend", c.backend},     {"sim_profile", c.sim_profile},
            {"workload", c.workload},   {"heartbeat_ms", c.heartbeat_ms}, {"runtime_dir", c.runtime_dir}};
  if (!c.msr_policy_json.empty()) j["msr_policy"] = json::parse(c.msr_policy_json, nullptr, false);
  return j.dump(2);
}

}  // namespace vmd::engine

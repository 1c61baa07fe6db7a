#include "backend/engine/engine_config.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"
#include "backend/rpc/proto_json.h"

namespace vmd::engine {
namespace {

constexpr uint32_t kDefaultVcpus = 1;
constexpr uint64_t kDefaultMemoryMib = 64;
constexpr uint32_t kDefaultHeartbeatMs = 1000;

absl::Status Invalid(const std::string& field, const std::string& rule) {
  return absl::InvalidArgumentError(absl::StrCat("config field '", field, "': ", rule));
}

}  // namespace

absl::StatusOr<EngineConfig> ParseEngineConfig(const std::string& json_text) {
  EngineConfig c;
  if (absl::Status s = rpc::FromJson(json_text, &c); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("config: ", s.message()));
  }
  if (!c.has_vcpus()) c.set_vcpus(kDefaultVcpus);
  if (!c.has_memory_mib()) c.set_memory_mib(kDefaultMemoryMib);
  if (!c.has_heartbeat_ms()) c.set_heartbeat_ms(kDefaultHeartbeatMs);
  if (c.backend() == vmd::v1::BACKEND_UNSPECIFIED) c.set_backend(vmd::v1::BACKEND_AUTO);
  if (c.workload().empty()) c.set_workload("idle");
  if (c.vm_id().empty()) c.set_vm_id(c.name().empty() ? "standalone" : c.name());
  if (c.vcpus() == 0) return Invalid("vcpus", "must be at least 1");
  if (c.memory_mib() < VMD_MIN_MEMORY_MIB) {
    return Invalid("memory_mib", absl::StrCat("must be at least ", VMD_MIN_MEMORY_MIB));
  }
  if (c.workload() != "idle" && c.workload() != "counter" && c.workload() != "probe") {
    return Invalid("workload", "must be idle, counter or probe");
  }
  if (c.heartbeat_ms() == 0) return Invalid("heartbeat_ms", "must be positive");
  if (c.has_restore() && c.restore().snapshot_dir().empty()) return Invalid("restore.snapshot_dir", "must be set");
  return c;
}

absl::StatusOr<EngineConfig> LoadEngineConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("config: cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<EngineConfig> c = ParseEngineConfig(text.str());
  if (c.ok() && c->runtime_dir().empty()) {
    c->set_runtime_dir(std::filesystem::absolute(path).parent_path().string());
  }
  return c;
}

std::string SocketPath(const EngineConfig& config) { return config.runtime_dir() + "/engine.sock"; }
std::string ConsolePath(const EngineConfig& config) { return config.runtime_dir() + "/console.log"; }
std::string ExitPath(const EngineConfig& config) { return config.runtime_dir() + "/exit.json"; }

}  // namespace vmd::engine

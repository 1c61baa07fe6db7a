// The engine's configuration: what vmd writes to <runtime_dir>/config.json,
// and what `vmd-engine --config vm.json` reads when run standalone.
#ifndef VMD_BACKEND_ENGINE_CONFIG_H_
#define VMD_BACKEND_ENGINE_CONFIG_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace vmd::engine {

struct EngineConfig {
  std::string vm_id;
  std::string name;
  uint32_t vcpus = 1;
  uint64_t memory_mib = 64;
  std::string backend = "auto";  // auto | kvm | sim
  std::string sim_profile;       // empty: the default profile
  std::string workload = "idle";  // idle | counter | probe
  uint32_t heartbeat_ms = 1000;
  // The VM's vmd.v1.MsrPolicy in protobuf's canonical JSON; empty: none.
  std::string msr_policy_json;
  // Holds engine.sock, console.log and exit.json. Default: the config's dir.
  std::string runtime_dir;

  std::string socket_path() const { return runtime_dir + "/engine.sock"; }
  std::string console_path() const { return runtime_dir + "/console.log"; }
  std::string exit_path() const { return runtime_dir + "/exit.json"; }
};

// Parses and validates a config; errors name the field and the rule.
absl::StatusOr<EngineConfig> ParseEngineConfig(const std::string& json_text);
absl::StatusOr<EngineConfig> LoadEngineConfig(const std::string& path);
std::string EngineConfigToJson(const EngineConfig& config);

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_CONFIG_H_

// The engine's configuration, vmd.engine.v1.EngineConfig: what vmd writes to
// <runtime_dir>/config.json (protobuf's canonical JSON), and what
// `vmd-engine --config vm.json` reads when run standalone.
#ifndef VMD_BACKEND_ENGINE_ENGINE_CONFIG_H_
#define VMD_BACKEND_ENGINE_ENGINE_CONFIG_H_

#include <string>

#include "absl/status/statusor.h"
#include "vmd/engine/v1/engine_config.pb.h"

namespace vmd::engine {

using v1::EngineConfig;

// Parses a config, fills in the defaults the proto documents and checks
// every field; errors are INVALID_ARGUMENT naming the field and the rule.
// Unknown fields are errors too (a misspelt field must not pass silently).
absl::StatusOr<EngineConfig> ParseEngineConfig(const std::string& json_text);
// Reads `path`; runtime_dir defaults to the file's directory.
absl::StatusOr<EngineConfig> LoadEngineConfig(const std::string& path);

std::string SocketPath(const EngineConfig& config);
std::string ConsolePath(const EngineConfig& config);
std::string ExitPath(const EngineConfig& config);

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_ENGINE_CONFIG_H_

// Starting a VM's engine: its runtime dir and config (a typed
// vmd.engine.v1.EngineConfig), the process (EngineSupervisor), and the wait
// until it is ready and answers. The caller commits the pid between Spawn
// and WaitUntilServing, so that a vmd restart in between finds the engine.
#ifndef VMD_DAEMON_ENGINE_ENGINE_LAUNCHER_H_
#define VMD_DAEMON_ENGINE_ENGINE_LAUNCHER_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/engine/engine_clients.h"
#include "daemon/engine/engine_supervisor.h"
#include "daemon/engine/sandbox_plan.h"
#include "daemon/engine/vm_paths.h"
#include "vmd/engine/v1/engine_config.pb.h"
#include "vmd/engine/v1/exit_record.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

struct SpawnedEngine {
  pid_t pid = 0;
  int ready_fd = -1;
};

// Why an engine did not come up: the error, the process's exit (when it
// ended), and what the engine recorded.
struct LaunchFailure {
  absl::Status status;
  std::optional<EngineExit> exit;
  engine::v1::ExitRecord record;
  // The engine's own reason if it wrote one, else the error's.
  std::string Reason() const;
};

class EngineLauncher {
 public:
  EngineLauncher(EngineSupervisor& supervisor, EngineClients& clients, std::string state_dir, uint32_t heartbeat_ms,
                 const SandboxPlan& sandbox)
      : supervisor_(supervisor),
        clients_(clients),
        state_dir_(std::move(state_dir)),
        heartbeat_ms_(heartbeat_ms),
        sandbox_(sandbox) {}

  // `vm`'s engine config on `backend` ("kvm" or "sim": vmd resolves auto,
  // so the engine runs what vmd checked).
  engine::v1::EngineConfig ConfigFor(const v1::Vm& vm, const std::string& backend) const;
  // Writes the config into a fresh runtime dir (the console log stays) and
  // starts the engine: sandboxed, in a cgroup of its own with the VM's
  // limits, unless the plan is off.
  absl::StatusOr<SpawnedEngine> Spawn(const v1::Vm& vm, const engine::v1::EngineConfig& config);
  // Waits for the engine's ready byte and its first status. On failure the
  // engine is killed and its exit collected into `failure`.
  absl::StatusOr<engine::v1::EngineStatus> WaitUntilServing(const v1::Vm& vm, SpawnedEngine spawned,
                                                            LaunchFailure* failure);

  const std::string& state_dir() const { return state_dir_; }

 private:
  EngineSupervisor& supervisor_;
  EngineClients& clients_;
  const std::string state_dir_;
  const uint32_t heartbeat_ms_;
  const SandboxPlan& sandbox_;
};

// How long an engine gets to be ready, and to answer a call.
inline constexpr std::chrono::milliseconds kEngineReadyTimeout{10000};
inline constexpr std::chrono::milliseconds kEngineCallDeadline{10000};
// How long an engine gets to exit after it was stopped, before SIGKILL.
inline constexpr std::chrono::milliseconds kEngineExitGrace{5000};
// How long past a stop's own timeout the engine gets to answer it.
inline constexpr std::chrono::milliseconds kStopSlack{1000};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_LAUNCHER_H_

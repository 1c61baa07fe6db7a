// What an engine's exit means for its VM, decided in one place: a guest that
// powered off, or an engine asked to stop, is STOPPED; anything else is
// CRASHED with the reason (the engine's own, and how the process ended).
// Called by the supervisor for every exit it sees; an operation that already
// accounted for the exit (StopVm) has cleared the VM's engine pid first.
#ifndef VMD_DAEMON_ENGINE_ENGINE_EXIT_HANDLER_H_
#define VMD_DAEMON_ENGINE_ENGINE_EXIT_HANDLER_H_

#include <sys/types.h>

#include <string>

#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"
#include "daemon/engine/engine_supervisor.h"

namespace vmd::daemon {

class EngineExitHandler {
 public:
  EngineExitHandler(VmRecords& records, EngineClients& clients, std::string state_dir)
      : records_(records), clients_(clients), state_dir_(std::move(state_dir)) {}

  void OnExit(const std::string& name, pid_t pid, const EngineExit& exit);

 private:
  VmRecords& records_;
  EngineClients& clients_;
  const std::string state_dir_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_EXIT_HANDLER_H_

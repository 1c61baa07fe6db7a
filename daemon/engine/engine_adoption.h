// After a vmd restart: every VM the store says has an engine is matched with
// its process again. A live engine of this runtime dir that speaks this
// vmd's engine API is adopted (watched for its exit) and reconciled (the
// store is the truth for the MSR policy; the engine for running or paused);
// one that does not answer is killed; one that speaks another API version is
// left running but its VM says why it cannot be controlled; a missing one
// means the VM stopped or crashed while vmd was down.
#ifndef VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_
#define VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_

#include <string>

#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_cgroup.h"
#include "daemon/engine/engine_clients.h"
#include "daemon/engine/engine_supervisor.h"

namespace vmd::daemon {

class EngineAdoption {
 public:
  EngineAdoption(VmRecords& records, EngineSupervisor& supervisor, EngineClients& clients, std::string state_dir,
                 const EngineCgroups& cgroups)
      : records_(records),
        supervisor_(supervisor),
        clients_(clients),
        state_dir_(std::move(state_dir)),
        cgroups_(cgroups) {}

  // Every VM in a state with an engine.
  void AdoptAll();
  void Adopt(v1::Vm vm);

 private:
  VmRecords& records_;
  EngineSupervisor& supervisor_;
  EngineClients& clients_;
  const std::string state_dir_;
  // Where an adopted engine's cgroup is, to remove it once the engine is gone.
  const EngineCgroups& cgroups_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_

// After a vmd restart: every VM the store says has an engine is matched with
// its process again, found by what it is (engine_processes.h). A live engine
// of the VM that speaks this vmd's engine API is adopted (watched for its
// exit) and reconciled (the store is the truth for the MSR policy; the engine
// for running or paused) -- also one vmd had spawned but not yet recorded
// (the VM is STARTING without a pid); one that does not answer is killed;
// one that speaks another API version is left running but its VM says why
// it cannot be controlled; a missing one means the VM stopped or crashed
// while vmd was down. Then every engine of the state dir that no record
// owns is killed, and runtime dirs no record owns are removed.
#ifndef VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_
#define VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_

#include <map>
#include <string>
#include <vector>

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

  // The VMs in a state with an engine, and the engines found.
  struct Plan {
    std::vector<v1::Vm> vms;
    std::map<std::string, std::vector<pid_t>> engines;
  };
  // Lists what is to adopt and holds those VMs (VmRecords::Hold):
  // operations on them wait until their engine is adopted, reads do not.
  Plan Prepare();
  // Adopts in parallel (a hung engine costs one call deadline, not one per
  // engine), releasing each VM as it is done, then reaps the orphans.
  void Run(const Plan& plan);

 private:
  // At most this many engines are asked at once.
  static constexpr size_t kParallelAdoptions = 16;

  // `vm`'s engine among `candidates` (the live engines of its runtime dir);
  // returns the pid it adopted, or 0.
  pid_t Adopt(v1::Vm vm, const std::vector<pid_t>& candidates);
  void ReapOrphans(const std::map<std::string, std::vector<pid_t>>& engines, const std::map<std::string, pid_t>& owned);

  VmRecords& records_;
  EngineSupervisor& supervisor_;
  EngineClients& clients_;
  const std::string state_dir_;
  // Where an adopted engine's cgroup is, to remove it once the engine is gone.
  const EngineCgroups& cgroups_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_ADOPTION_H_

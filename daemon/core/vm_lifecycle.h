// The VM lifecycle (vm.proto's VmService, minus the streams): create, read,
// start, pause, resume, stop, delete -- each through RunOperation, so each is
// serialized per VM, replayed by request_id and committed before it answers.
#ifndef VMD_DAEMON_CORE_VM_LIFECYCLE_H_
#define VMD_DAEMON_CORE_VM_LIFECYCLE_H_

#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/core/operation.h"
#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"
#include "daemon/engine/engine_launcher.h"
#include "daemon/engine/engine_supervisor.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

class VmLifecycle {
 public:
  VmLifecycle(VmRecords& records, EngineLauncher& launcher, EngineSupervisor& supervisor, EngineClients& clients,
              const v1::HostInfo& host)
      : records_(records), launcher_(launcher), supervisor_(supervisor), clients_(clients), host_(host) {}

  absl::StatusOr<v1::Vm> CreateVm(const v1::CreateVmRequest& request);
  absl::StatusOr<v1::Vm> GetVm(const std::string& name) const;
  absl::StatusOr<v1::ListVmsResponse> ListVms(const v1::ListVmsRequest& request) const;
  absl::StatusOr<v1::Vm> StartVm(const v1::StartVmRequest& request);
  absl::StatusOr<v1::Vm> PauseVm(const v1::PauseVmRequest& request);
  absl::StatusOr<v1::Vm> ResumeVm(const v1::ResumeVmRequest& request);
  absl::StatusOr<v1::Vm> StopVm(const v1::StopVmRequest& request);
  absl::StatusOr<v1::DeleteVmResponse> DeleteVm(const v1::DeleteVmRequest& request);

  // The VM's console log (it persists across engine restarts).
  std::string ConsolePath(const v1::Vm& vm) const;

 private:
  absl::StatusOr<v1::Vm> Start(const v1::Vm& vm, std::optional<RequestRecord> pending);
  // RESOURCE_EXHAUSTED when `vm`'s memory does not fit beside the VMs that
  // have engines (HostLimits.memory_overcommit). Requires admission_mu_.
  absl::Status AdmitLocked(const v1::Vm& vm) const;
  absl::StatusOr<Outcome<v1::Vm>> Stop(const v1::Vm& vm, const v1::StopVmRequest& request,
                                       std::optional<RequestRecord> pending);

  VmRecords& records_;
  EngineLauncher& launcher_;
  EngineSupervisor& supervisor_;
  EngineClients& clients_;
  const v1::HostInfo& host_;
  // Serializes admission and the commit that makes a VM count (STARTING),
  // across VMs.
  std::mutex admission_mu_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_LIFECYCLE_H_

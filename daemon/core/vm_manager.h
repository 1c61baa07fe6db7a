// The daemon's core: every VM operation, independent of gRPC. Each mutation
// is committed to the store (with its event and, when the caller gave a
// request_id, its answer) before it is acknowledged; operations on one VM are
// serialized by the registry's per-VM lock.
#ifndef VMD_DAEMON_CORE_VM_MANAGER_H_
#define VMD_DAEMON_CORE_VM_MANAGER_H_

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "daemon/engine/engine_supervisor.h"
#include "daemon/core/event_log.h"
#include "daemon/store/store.h"
#include "daemon/core/vm_registry.h"
#include "daemon/core/vm_state_machine.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

struct ManagerOptions {
  std::string state_dir;
  std::string engine_path;
  // The counter workload's heartbeat period, passed to every engine.
  uint32_t heartbeat_ms = 1000;
};

class VmManager {
 public:
  // Opens the store in `state_dir`, loads every VM and the retained events,
  // and re-attaches to the engines of VMs that were running.
  static absl::StatusOr<std::unique_ptr<VmManager>> Open(const ManagerOptions& options, v1::HostInfo host);

  absl::StatusOr<v1::Vm> CreateVm(const v1::CreateVmRequest& request);
  absl::StatusOr<v1::Vm> GetVm(const std::string& name);
  absl::StatusOr<v1::ListVmsResponse> ListVms(const v1::ListVmsRequest& request);
  absl::StatusOr<v1::Vm> StartVm(const v1::StartVmRequest& request);
  absl::StatusOr<v1::Vm> PauseVm(const v1::PauseVmRequest& request);
  absl::StatusOr<v1::Vm> ResumeVm(const v1::ResumeVmRequest& request);
  absl::StatusOr<v1::Vm> StopVm(const v1::StopVmRequest& request);
  absl::StatusOr<v1::DeleteVmResponse> DeleteVm(const v1::DeleteVmRequest& request);

  // Replaces a VM's MSR policy: checked by compiling it, installed
  // atomically on a running engine, then committed.
  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::SetMsrPolicyRequest& request);
  // The running engine's counters of trapped MSR accesses.
  absl::StatusOr<v1::MsrStats> GetMsrStats(const std::string& name);
  // Commits events that change no VM record (MSR denials), then publishes them.
  absl::Status RecordEvents(std::vector<v1::Event> events);

  EventLog& events() { return events_; }
  const v1::HostInfo& host() const { return host_; }
  // The VM's console log (it persists across engine restarts).
  std::string ConsolePath(const v1::Vm& vm) const;
  std::string EngineSocket(const v1::Vm& vm) const;
  size_t vm_count() const { return registry_.size(); }

 private:
  VmManager(const ManagerOptions& options, v1::HostInfo host, std::unique_ptr<Store> store);
  absl::Status Recover();
  void RecoverVm(v1::Vm vm);
  void OnEngineExit(const std::string& name, pid_t pid, const EngineExit& exit);

  // Runs a lifecycle operation under the VM's lock: replays a recorded
  // request_id, checks the state machine, then calls `act`.
  template <typename Request>
  absl::StatusOr<v1::Vm> Operate(const Request& request, const char* method, VmOp op,
                                 const std::function<absl::StatusOr<v1::Vm>(v1::Vm&)>& act);
  absl::StatusOr<v1::Vm> Start(v1::Vm& vm, const std::string& request_id);
  absl::StatusOr<v1::Vm> Stop(v1::Vm& vm, const v1::StopVmRequest& request);

  // The recorded answer to `request_id`, if any. A request_id used before
  // for another method or VM is INVALID_ARGUMENT.
  absl::StatusOr<std::optional<std::string>> Replay(const std::string& request_id, const char* method,
                                                    const std::string& name);
  // Moves `vm` to `state`, committing the record, an event and (with a
  // request_id) the answer; then updates the registry.
  absl::Status Transition(v1::Vm& vm, v1::VmState state, const std::string& message,
                          const std::string& request_id = "", const char* method = "");
  absl::Status CommitAndPublish(Mutation& mutation);

  std::string RuntimeDir(const v1::Vm& vm) const;

  const ManagerOptions options_;
  const v1::HostInfo host_;
  std::unique_ptr<Store> store_;
  VmRegistry registry_;
  EventLog events_;
  std::mutex commit_mu_;  // commits publish their events in sequence order
  std::unique_ptr<EngineSupervisor> supervisor_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_MANAGER_H_

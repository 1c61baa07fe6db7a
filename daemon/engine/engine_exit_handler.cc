#include "daemon/engine/engine_exit_handler.h"

#include "absl/strings/str_cat.h"
#include "daemon/core/vm_state_machine.h"
#include "daemon/engine/exit_status.h"

namespace vmd::daemon {

void EngineExitHandler::OnExit(const std::string& name, pid_t pid, const EngineExit& exit) {
  VmRegistry::OpLock lock = records_.Lock(name);
  std::optional<v1::Vm> vm = records_.Get(name);
  // An operation that already accounted for this exit has cleared the pid.
  if (!vm || vm->status().engine_pid() != pid || !HasEngine(vm->status().state())) return;
  clients_.Forget(vm->id());
  const engine::v1::ExitRecord record = ReadExitRecord(VmPaths(state_dir_, vm->id()));
  const bool powered_off =
      exit.known && exit.code == 0 && exit.signal == 0 && record.kind() == engine::v1::EXIT_KIND_STOPPED;
  vm->mutable_status()->set_engine_pid(0);
  if (powered_off || vm->status().state() == v1::VM_STATE_STOPPING) {
    const std::string reason =
        powered_off ? "guest powered off" : absl::StrCat("engine ", exit.Describe(), " while stopping");
    *vm->mutable_status()->mutable_exit() = MakeExitStatus(exit, record, reason);
    records_.CommitOrSurface(StateChange(*vm, v1::VM_STATE_STOPPED, reason), absl::StrCat("vm ", name, " stopped"));
    return;
  }
  const bool engine_said =
      record.kind() == engine::v1::EXIT_KIND_CRASHED || record.kind() == engine::v1::EXIT_KIND_FAILED;
  const std::string reason = engine_said ? absl::StrCat(record.reason(), " (engine ", exit.Describe(), ")")
                                         : absl::StrCat("engine ", exit.Describe());
  *vm->mutable_status()->mutable_exit() = MakeExitStatus(exit, record, reason);
  vm->mutable_status()->set_last_error(reason);
  records_.CommitOrSurface(StateChange(*vm, v1::VM_STATE_CRASHED, reason), absl::StrCat("vm ", name, " crashed"));
}

}  // namespace vmd::daemon

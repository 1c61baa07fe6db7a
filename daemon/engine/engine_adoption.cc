#include "daemon/engine/engine_adoption.h"

#include <signal.h>

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "daemon/core/vm_state_machine.h"
#include "daemon/engine/engine_launcher.h"
#include "daemon/engine/exit_status.h"
#include "daemon/engine/vm_paths.h"

namespace vmd::daemon {
namespace {

// Whether `pid` is the engine started with this config, and not a process
// that happens to have reused its pid.
bool IsEngineOf(pid_t pid, const std::string& config_path) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(config_path) != std::string::npos;
}

v1::VmState FromEngineState(engine::v1::EngineState state) {
  switch (state) {
    case engine::v1::ENGINE_STATE_RUNNING: return v1::VM_STATE_RUNNING;
    case engine::v1::ENGINE_STATE_PAUSED: return v1::VM_STATE_PAUSED;
    default: return v1::VM_STATE_UNSPECIFIED;  // stopping or crashed: its exit will say
  }
}

v1::Backend BackendFromName(const std::string& name) { return name == "kvm" ? v1::BACKEND_KVM : v1::BACKEND_SIM; }

}  // namespace

void EngineAdoption::AdoptAll() {
  bool more = false;
  std::vector<v1::Vm> vms = records_.registry().List(
      "", SIZE_MAX, [](const v1::Vm& vm) { return HasEngine(vm.status().state()); }, &more);
  for (v1::Vm& vm : vms) Adopt(std::move(vm));
}

void EngineAdoption::Adopt(v1::Vm vm) {
  const std::string name = vm.spec().name();
  VmRegistry::OpLock lock = records_.Lock(name);
  const VmPaths paths(state_dir_, vm.id());
  const pid_t pid = vm.status().engine_pid();
  if (pid > 0 && IsEngineOf(pid, paths.config()) && supervisor_.Adopt(name, pid, cgroups_.placing() ? cgroups_.PathFor(vm.id()) : "").ok()) {
    absl::StatusOr<engine::v1::EngineStatus> status = clients_.For(vm)->GetStatus(kEngineCallDeadline);
    if (status.ok() && status->api_version() != engine::v1::API_VERSION_1) {
      // An engine from another vmd version: it keeps running (the VM is
      // someone's workload), but this vmd cannot drive it.
      const std::string reason = absl::StrCat(
          "engine pid ", pid, " speaks engine API version ", status->api_version(), "; this vmd speaks ",
          engine::v1::API_VERSION_1, ": stop the VM (vmctl stop --force) and start it again to upgrade its engine");
      std::cerr << "vmd: vm " << name << ": " << reason << "\n";
      vm.mutable_status()->set_last_error(reason);
      Mutation m;
      m.put.push_back(vm);
      records_.CommitOrSurface(std::move(m), absl::StrCat("vm ", name, ": incompatible engine"));
      return;
    }
    if (status.ok()) {
      // The store is the truth: a policy change whose commit a crash cut
      // off is undone on the engine.
      if (vm.spec().has_msr_policy()) clients_.For(vm)->SetMsrPolicy(vm.spec().msr_policy(), kEngineCallDeadline).IgnoreError();
      const v1::VmState actual = FromEngineState(status->state());
      if (actual != v1::VM_STATE_UNSPECIFIED && actual != vm.status().state()) {
        vm.mutable_status()->set_backend(BackendFromName(status->backend()));
        records_.CommitOrSurface(StateChange(vm, actual, "reconciled with its engine after a vmd restart"),
                                 absl::StrCat("vm ", name, " reconciled"));
      }
      return;  // an engine that is ending is reported by its exit
    }
    // Alive but not answering: it cannot be controlled, so it is ended.
    supervisor_.Kill(pid, SIGKILL);
    clients_.Forget(vm.id());
    vm.mutable_status()->set_engine_pid(0);
    const std::string reason = absl::StrCat("engine pid ", pid, " did not answer after a vmd restart (",
                                            status.status().message(), "); killed");
    *vm.mutable_status()->mutable_exit() = MakeExitStatus(std::nullopt, ReadExitRecord(paths), reason);
    vm.mutable_status()->set_last_error(reason);
    records_.CommitOrSurface(StateChange(vm, v1::VM_STATE_CRASHED, reason), absl::StrCat("vm ", name, " crashed"));
    return;
  }
  const engine::v1::ExitRecord record = ReadExitRecord(paths);
  vm.mutable_status()->set_engine_pid(0);
  if (vm.status().state() == v1::VM_STATE_STOPPING || record.kind() == engine::v1::EXIT_KIND_STOPPED) {
    const std::string reason = "engine ended while vmd was down";
    *vm.mutable_status()->mutable_exit() = MakeExitStatus(std::nullopt, record, reason);
    records_.CommitOrSurface(StateChange(vm, v1::VM_STATE_STOPPED, reason), absl::StrCat("vm ", name, " stopped"));
    return;
  }
  const std::string reason = absl::StrCat("engine pid ", pid, " was gone when vmd restarted",
                                          record.reason().empty() ? "" : absl::StrCat(": ", record.reason()));
  *vm.mutable_status()->mutable_exit() = MakeExitStatus(std::nullopt, record, reason);
  vm.mutable_status()->set_last_error(reason);
  records_.CommitOrSurface(StateChange(vm, v1::VM_STATE_CRASHED, reason), absl::StrCat("vm ", name, " crashed"));
}

}  // namespace vmd::daemon

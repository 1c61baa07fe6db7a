#include "daemon/engine/engine_adoption.h"

#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "daemon/core/vm_state_machine.h"
#include "daemon/engine/engine_launcher.h"
#include "daemon/engine/engine_processes.h"
#include "daemon/engine/exit_status.h"
#include "daemon/engine/vm_paths.h"

namespace vmd::daemon {
namespace {

v1::VmState FromEngineState(engine::v1::EngineState state) {
  switch (state) {
    case engine::v1::ENGINE_STATE_RUNNING: return v1::VM_STATE_RUNNING;
    case engine::v1::ENGINE_STATE_PAUSED: return v1::VM_STATE_PAUSED;
    default: return v1::VM_STATE_UNSPECIFIED;  // stopping or crashed: its exit will say
  }
}

// A live engine answers its status in milliseconds; one that does not in
// this long after a vmd restart is taken for hung.
constexpr std::chrono::milliseconds kAdoptionDeadline{3000};

v1::Backend BackendFromName(const std::string& name) { return name == "kvm" ? v1::BACKEND_KVM : v1::BACKEND_SIM; }

}  // namespace

EngineAdoption::Plan EngineAdoption::Prepare() {
  Plan plan;
  plan.engines = FindEngineProcesses(state_dir_);
  bool more = false;
  plan.vms = records_.List(
      "", SIZE_MAX, [](const v1::Vm& vm) { return HasEngine(vm.status().state()); }, &more);
  std::vector<std::string> names;
  for (const v1::Vm& vm : plan.vms) names.push_back(vm.spec().name());
  records_.Hold(names);
  return plan;
}

void EngineAdoption::Run(const Plan& plan) {
  const std::vector<v1::Vm>& vms = plan.vms;
  const std::map<std::string, std::vector<pid_t>>& engines = plan.engines;
  std::mutex mu;
  std::map<std::string, pid_t> owned;
  size_t next = 0;
  auto worker = [&] {
    for (;;) {
      size_t i;
      {
        std::lock_guard lock(mu);
        if (next == vms.size()) return;
        i = next++;
      }
      auto it = engines.find(vms[i].id());
      const pid_t pid = Adopt(vms[i], it == engines.end() ? std::vector<pid_t>() : it->second);
      records_.Release(vms[i].spec().name());
      std::lock_guard lock(mu);
      owned[vms[i].id()] = pid;
    }
  };
  std::vector<std::thread> workers;
  for (size_t t = 0; t < std::min(kParallelAdoptions, vms.size()); ++t) workers.emplace_back(worker);
  for (std::thread& t : workers) t.join();
  ReapOrphans(engines, owned);
}

void EngineAdoption::ReapOrphans(const std::map<std::string, std::vector<pid_t>>& engines,
                                 const std::map<std::string, pid_t>& owned) {
  for (const auto& [id, pids] : engines) {
    auto it = owned.find(id);
    for (pid_t pid : pids) {
      if (it != owned.end() && it->second == pid) continue;
      // Two writers to one runtime dir, or an engine of a deleted VM.
      std::cerr << "vmd: killing engine pid " << pid << " of vm id " << id << ": no record owns it\n";
      kill(pid, SIGKILL);
    }
  }
  // The cgroups of engines that are gone: those killed above, and those that
  // ended while vmd was down (a supervised engine's goes with its exit). Only
  // this vmd's: another may share the parent.
  if (cgroups_.placing()) {
    std::set<std::string> gone;
    for (const auto& [id, pids] : engines) {
      if (!owned.contains(id)) gone.insert(id);
    }
    for (const auto& [id, pid] : owned) {
      if (pid == 0) gone.insert(id);
    }
    for (const std::string& id : gone) RemoveEngineCgroup(cgroups_.PathFor(id));
  }
  // The runtime dirs of VMs that are gone (vmd died between the delete's
  // commit and the removal).
  bool more = false;
  std::set<std::string> ids;
  for (const v1::Vm& vm : records_.List("", SIZE_MAX, [](const v1::Vm&) { return true; }, &more)) {
    ids.insert(vm.id());
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir_ + "/vms", ec)) {
    if (!ids.contains(entry.path().filename().string())) std::filesystem::remove_all(entry.path(), ec);
  }
}

pid_t EngineAdoption::Adopt(v1::Vm vm, const std::vector<pid_t>& candidates) {
  const std::string name = vm.spec().name();
  VmRegistry::OpLock lock = records_.LockHeld(name);
  const VmPaths paths(state_dir_, vm.id());
  pid_t pid = vm.status().engine_pid();
  if (pid == 0 && vm.status().state() == v1::VM_STATE_STARTING && candidates.size() == 1) {
    // Spawned, but vmd died before it recorded the pid.
    pid = candidates.front();
    vm.mutable_status()->set_engine_pid(pid);
  }
  const bool found = pid > 0 && std::find(candidates.begin(), candidates.end(), pid) != candidates.end();
  if (found && supervisor_.Adopt(name, pid, paths.process_exit(), cgroups_.placing() ? cgroups_.PathFor(vm.id()) : "").ok()) {
    absl::StatusOr<engine::v1::EngineStatus> status = clients_.For(vm)->GetStatus(kAdoptionDeadline);
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
      return pid;
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
      } else if (vm.status().engine_pid() != 0) {
        Mutation m;  // the pid the record lacked
        m.put.push_back(vm);
        records_.CommitOrSurface(std::move(m), absl::StrCat("vm ", name, " adopted"));
      }
      return pid;  // an engine that is ending is reported by its exit
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
    return 0;
  }
  const engine::v1::ExitRecord record = ReadExitRecord(paths);
  vm.mutable_status()->set_engine_pid(0);
  if (vm.status().state() == v1::VM_STATE_STOPPING || record.kind() == engine::v1::EXIT_KIND_STOPPED) {
    const std::string reason = "engine ended while vmd was down";
    *vm.mutable_status()->mutable_exit() = MakeExitStatus(std::nullopt, record, reason);
    records_.CommitOrSurface(StateChange(vm, v1::VM_STATE_STOPPED, reason), absl::StrCat("vm ", name, " stopped"));
    return 0;
  }
  const std::string reason = absl::StrCat(pid > 0 ? absl::StrCat("engine pid ", pid) : std::string("the engine"),
                                          " was gone when vmd restarted",
                                          record.reason().empty() ? "" : absl::StrCat(": ", record.reason()));
  *vm.mutable_status()->mutable_exit() = MakeExitStatus(std::nullopt, record, reason);
  vm.mutable_status()->set_last_error(reason);
  records_.CommitOrSurface(StateChange(vm, v1::VM_STATE_CRASHED, reason), absl::StrCat("vm ", name, " crashed"));
  return 0;
}

}  // namespace vmd::daemon

#include "daemon/engine/engine_launcher.h"

#include <signal.h>
#include <unistd.h>

#include <sys/stat.h>

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "backend/rpc/proto_json.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/engine/exit_status.h"
#include "daemon/store/state_dir.h"

namespace vmd::daemon {

std::string LaunchFailure::Reason() const {
  return record.reason().empty() ? std::string(status.message()) : record.reason();
}

engine::v1::EngineConfig EngineLauncher::ConfigFor(const v1::Vm& vm, const std::string& backend) const {
  engine::v1::EngineConfig config;
  config.set_api_version(engine::v1::API_VERSION_1);
  config.set_vm_id(vm.id());
  config.set_name(vm.spec().name());
  config.set_vcpus(vm.spec().vcpus());
  config.set_memory_mib(vm.spec().memory_mib());
  config.set_backend(backend == "kvm" ? v1::BACKEND_KVM : v1::BACKEND_SIM);
  config.set_sim_profile(vm.spec().sim_profile());
  config.set_workload(vm.spec().workload());
  config.set_heartbeat_ms(heartbeat_ms_);
  config.set_runtime_dir(VmPaths(state_dir_, vm.id()).dir);
  if (vm.spec().has_msr_policy()) *config.mutable_msr_policy() = vm.spec().msr_policy();
  if (vm.status().has_pmu_grant()) *config.mutable_pmu() = vm.status().pmu_grant().guest();
  config.set_cpu_vendor(vm.spec().cpu_vendor());
  if (sandbox_.enabled()) {
    *config.mutable_sandbox() = sandbox_.engine_config();
    // vmd's store and the other VMs' runtime dirs are none of its business.
    if (config.sandbox().mount_namespace()) config.mutable_sandbox()->add_hidden_dirs(state_dir_);
  }
  return config;
}

absl::StatusOr<SpawnedEngine> EngineLauncher::Spawn(const v1::Vm& vm, const engine::v1::EngineConfig& config) {
  const VmPaths paths(state_dir_, vm.id());
  std::error_code ec;
  std::filesystem::create_directories(paths.dir, ec);
  chmod(paths.dir.c_str(), kPrivateDirMode);
  std::filesystem::remove(paths.exit_record(), ec);
  std::filesystem::remove(paths.process_exit(), ec);
  if (absl::Status s = WritePrivateFile(paths.config(), rpc::ToJson(config, /*multiline=*/true)); !s.ok()) return s;
  EngineSpawnOptions options = {.tag = vm.spec().name(),
                                .config_path = paths.config(),
                                .log_path = paths.log(),
                                .exit_status_path = paths.process_exit(),
                                .env = sandbox_.environment()};
  const EngineCgroups& cgroups = sandbox_.cgroups();
  if (cgroups.placing()) {
    absl::StatusOr<int> fd = cgroups.Create(vm.id(), EngineLimits(vm.spec().memory_mib(), vm.spec().vcpus()));
    if (!fd.ok()) return absl::InternalError(absl::StrCat("vm ", rpc::QuotedInput(vm.spec().name()), ": ", fd.status().message()));
    options.cgroup_fd = *fd;
    options.cgroup_path = cgroups.PathFor(vm.id());
  }
  SpawnedEngine spawned;
  absl::StatusOr<pid_t> pid = supervisor_.Spawn(options, &spawned.ready_fd);
  if (options.cgroup_fd >= 0) close(options.cgroup_fd);
  if (!pid.ok()) {
    if (!options.cgroup_path.empty()) RemoveEngineCgroup(options.cgroup_path);
    return absl::InternalError(absl::StrCat("vm ", rpc::QuotedInput(vm.spec().name()), ": ", pid.status().message()));
  }
  spawned.pid = *pid;
  return spawned;
}

absl::StatusOr<engine::v1::EngineStatus> EngineLauncher::WaitUntilServing(const v1::Vm& vm, SpawnedEngine spawned,
                                                                          LaunchFailure* failure) {
  absl::Status ready = supervisor_.WaitReady(spawned.pid, spawned.ready_fd, kEngineReadyTimeout);
  absl::StatusOr<engine::v1::EngineStatus> status =
      ready.ok() ? clients_.For(vm)->GetStatus(kEngineCallDeadline) : ready;
  if (status.ok()) return status;
  supervisor_.Kill(spawned.pid, SIGKILL);
  clients_.Forget(vm.id());
  failure->status = status.status();
  failure->exit = supervisor_.WaitForExit(spawned.pid, kEngineExitGrace);
  failure->record = ReadExitRecord(VmPaths(state_dir_, vm.id()));
  return status.status();
}

}  // namespace vmd::daemon

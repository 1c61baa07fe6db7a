#include "daemon/engine/engine_launcher.h"

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "backend/rpc/proto_json.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/engine/exit_status.h"

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
  return config;
}

absl::StatusOr<SpawnedEngine> EngineLauncher::Spawn(const v1::Vm& vm, const engine::v1::EngineConfig& config) {
  const VmPaths paths(state_dir_, vm.id());
  std::error_code ec;
  std::filesystem::create_directories(paths.dir, ec);
  std::filesystem::remove(paths.exit_record(), ec);
  std::filesystem::remove(paths.process_exit(), ec);
  {
    std::ofstream out(paths.config(), std::ios::trunc);
    out << rpc::ToJson(config, /*multiline=*/true);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", paths.config()));
  }
  SpawnedEngine spawned;
  absl::StatusOr<pid_t> pid =
      supervisor_.Spawn(vm.spec().name(), paths.config(), paths.log(), paths.process_exit(), &spawned.ready_fd);
  if (!pid.ok()) return absl::InternalError(absl::StrCat("vm ", rpc::QuotedInput(vm.spec().name()), ": ", pid.status().message()));
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

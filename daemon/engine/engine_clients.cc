#include "daemon/engine/engine_clients.h"

#include "daemon/engine/grpc_engine_client.h"
#include "daemon/engine/vm_paths.h"

namespace vmd::daemon {

EngineClients::Factory EngineClients::GrpcFactory() {
  return [](const std::string& socket_path) { return std::make_shared<GrpcEngineClient>(socket_path); };
}

std::shared_ptr<EngineClient> EngineClients::For(const v1::Vm& vm) {
  const pid_t pid = vm.status().engine_pid();
  std::lock_guard lock(mu_);
  auto& slot = clients_[vm.id()];
  if (slot.second == nullptr || slot.first != pid) slot = {pid, factory_(VmPaths(state_dir_, vm.id()).socket())};
  return slot.second;
}

void EngineClients::Forget(const std::string& vm_id) {
  std::lock_guard lock(mu_);
  clients_.erase(vm_id);
}

}  // namespace vmd::daemon

// The clients of the running engines, one per engine for its whole life
// (one gRPC channel each), made by a factory so that tests can put fakes in.
#ifndef VMD_DAEMON_ENGINE_ENGINE_CLIENTS_H_
#define VMD_DAEMON_ENGINE_ENGINE_CLIENTS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "daemon/engine/engine_client.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

class EngineClients {
 public:
  // Makes the client of the engine listening on `socket_path`.
  using Factory = std::function<std::shared_ptr<EngineClient>(const std::string& socket_path)>;
  // The default factory talks gRPC.
  static Factory GrpcFactory();

  EngineClients(std::string state_dir, Factory factory) : state_dir_(std::move(state_dir)), factory_(std::move(factory)) {}

  // The client of `vm`'s engine (its status's engine_pid): made once per
  // engine, kept until Forget.
  std::shared_ptr<EngineClient> For(const v1::Vm& vm);
  // The engine of `vm_id` is gone.
  void Forget(const std::string& vm_id);

 private:
  const std::string state_dir_;
  const Factory factory_;
  std::mutex mu_;
  // By VM id: the engine's pid and its client. A new pid is a new engine.
  std::map<std::string, std::pair<pid_t, std::shared_ptr<EngineClient>>> clients_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_CLIENTS_H_

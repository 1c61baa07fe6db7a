// The daemon's parts put together: the records, the engines (supervisor,
// clients, launcher, exit handler, adoption), and the operations each API
// service serves. Opening it adopts the engines of VMs that were running.
#ifndef VMD_DAEMON_CORE_VMD_CORE_H_
#define VMD_DAEMON_CORE_VMD_CORE_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "daemon/core/msr_operations.h"
#include "daemon/core/probe_operations.h"
#include "daemon/core/vm_lifecycle.h"
#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_adoption.h"
#include "daemon/engine/engine_clients.h"
#include "daemon/engine/engine_exit_handler.h"
#include "daemon/engine/engine_launcher.h"
#include "daemon/engine/engine_supervisor.h"
#include "daemon/engine/engine_watchdog.h"
#include "daemon/engine/sandbox_plan.h"
#include "vmd/v1/host.pb.h"

namespace vmd::daemon {

struct VmdOptions {
  std::string state_dir;
  std::string engine_path;
  // The counter workload's heartbeat period, passed to every engine.
  uint32_t heartbeat_ms = 1000;
  // How engines are confined (vmd's main turns it on unless --no-sandbox).
  SandboxPlan sandbox = SandboxPlan::Off();
  // How the daemon talks to engines (tests put fakes in).
  EngineClients::Factory engine_clients = EngineClients::GrpcFactory();
  EngineWatchdog::Options watchdog;
};

class VmdCore {
 public:
  // Opens the records and starts adopting the engines of VMs that were
  // running, in the background: the caller can serve at once.
  static absl::StatusOr<std::unique_ptr<VmdCore>> Open(const VmdOptions& options, v1::HostInfo host);
  ~VmdCore();
  // Blocks until every engine is adopted (or found gone).
  void WaitForAdoption();

  const v1::HostInfo& host() const { return host_; }
  VmRecords& records() { return *records_; }
  EngineClients& engine_clients() { return clients_; }
  VmLifecycle& lifecycle() { return lifecycle_; }
  MsrOperations& msr() { return msr_; }
  ProbeOperations& probes() { return probes_; }

 private:
  VmdCore(const VmdOptions& options, v1::HostInfo host, std::unique_ptr<VmRecords> records);

  const v1::HostInfo host_;
  const SandboxPlan sandbox_;
  const std::unique_ptr<VmRecords> records_;
  EngineClients clients_;
  EngineExitHandler exit_handler_;
  // After what its exit callbacks use, so that it goes first.
  EngineSupervisor supervisor_;
  EngineLauncher launcher_;
  EngineAdoption adoption_;
  VmLifecycle lifecycle_;
  MsrOperations msr_;
  ProbeOperations probes_;
  EngineWatchdog watchdog_;
  std::thread adopting_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VMD_CORE_H_

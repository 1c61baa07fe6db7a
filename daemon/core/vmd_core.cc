#include "daemon/core/vmd_core.h"

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace vmd::daemon {

VmdCore::VmdCore(const VmdOptions& options, v1::HostInfo host, std::unique_ptr<VmRecords> records)
    : host_(std::move(host)),
      sandbox_(options.sandbox),
      records_(std::move(records)),
      clients_(options.state_dir, options.engine_clients),
      exit_handler_(*records_, clients_, options.state_dir),
      supervisor_(options.engine_path,
                  [this](const std::string& name, pid_t pid, const EngineExit& exit) {
                    exit_handler_.OnExit(name, pid, exit);
                  }),
      launcher_(supervisor_, clients_, options.state_dir, options.heartbeat_ms, sandbox_),
      adoption_(*records_, supervisor_, clients_, options.state_dir, sandbox_.cgroups()),
      lifecycle_(*records_, launcher_, supervisor_, clients_, host_),
      msr_(*records_, clients_, host_),
      probes_(*records_, clients_),
      watchdog_(*records_, clients_, options.watchdog) {}

absl::StatusOr<std::unique_ptr<VmdCore>> VmdCore::Open(const VmdOptions& options, v1::HostInfo host) {
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir + "/vms", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("state dir ", options.state_dir, ": ", ec.message()));
  absl::StatusOr<std::unique_ptr<VmRecords>> records = VmRecords::Open(options.state_dir + "/vmd.db");
  if (!records.ok()) return records.status();
  std::unique_ptr<VmdCore> core(new VmdCore(options, std::move(host), *std::move(records)));
  core->adopting_ = std::thread([c = core.get(), plan = core->adoption_.Prepare()] { c->adoption_.Run(plan); });
  return core;
}

VmdCore::~VmdCore() { WaitForAdoption(); }

void VmdCore::WaitForAdoption() {
  if (adopting_.joinable()) adopting_.join();
}

}  // namespace vmd::daemon

#include "daemon/core/probe_operations.h"

#include "absl/strings/str_cat.h"
#include "backend/probe/probe_program.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/core/operation.h"
#include "daemon/core/validation.h"
#include "daemon/core/vm_state_machine.h"

namespace vmd::daemon {
namespace {

// How long the engine gets beyond the program's own timeout.
constexpr std::chrono::milliseconds kEngineSlack{5000};
// A million round trips of each kind take seconds, not minutes.
constexpr std::chrono::minutes kBenchDeadline{5};

}  // namespace

absl::StatusOr<v1::Vm> ProbeOperations::ProbeableVm(const std::string& name) {
  std::optional<v1::Vm> vm = records_.Get(name);
  if (!vm) return VmNotFound(name);
  if (vm->status().state() != v1::VM_STATE_RUNNING) {
    return VmStateError(name, vm->status().state(), "probes need state running");
  }
  if (vm->spec().workload() != "probe") {
    return rpc::PreconditionFailed(rpc::reason::kWorkload, "WORKLOAD", absl::StrCat("vms/", name),
                                   absl::StrCat("vm ", rpc::QuotedInput(name), " runs workload ", vm->spec().workload(),
                                                "; probes need workload probe"),
                                   {{"vm", name}, {"workload", vm->spec().workload()}});
  }
  return *vm;
}

absl::StatusOr<v1::RunProbeResponse> ProbeOperations::RunProbe(const v1::RunProbeRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  VmRegistry::OpLock lock = records_.Lock(request.name());
  absl::StatusOr<v1::Vm> vm = ProbeableVm(request.name());
  if (!vm.ok()) return vm.status();
  if (absl::Status s = probe::ValidateProbeRequest(request, vm->spec().memory_mib() << 20); !s.ok()) return s;
  const uint32_t timeout_ms = request.timeout_ms() == 0 ? probe::kDefaultTimeoutMs : request.timeout_ms();
  return clients_.For(*vm)->RunProbe(request, std::chrono::milliseconds(timeout_ms) + kEngineSlack);
}

absl::StatusOr<v1::GuestBenchReport> ProbeOperations::RunGuestBench(const v1::RunGuestBenchRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (request.iterations() > kMaxBenchIterations) {
    return rpc::InvalidField("iterations", absl::StrCat("must be at most ", kMaxBenchIterations));
  }
  VmRegistry::OpLock lock = records_.Lock(request.name());
  absl::StatusOr<v1::Vm> vm = ProbeableVm(request.name());
  if (!vm.ok()) return vm.status();
  if (vm->status().backend() != v1::BACKEND_KVM) {
    return rpc::PreconditionFailed(
        rpc::reason::kBackendUnusable, "BACKEND", absl::StrCat("vms/", request.name()),
        absl::StrCat("vm ", rpc::QuotedInput(request.name()),
                     " runs on sim; guest micro-benchmarks time real VM exits and need kvm"),
        {{"vm", request.name()}, {"backend", "sim"}});
  }
  return clients_.For(*vm)->RunGuestBench(request, kBenchDeadline);
}

}  // namespace vmd::daemon

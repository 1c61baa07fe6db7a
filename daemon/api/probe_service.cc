#include "daemon/api/probe_service.h"

#include "absl/strings/str_cat.h"
#include "backend/probe/probe_program.h"
#include "daemon/engine/engine_client.h"
#include "daemon/api/vm_service.h"
#include "daemon/core/vm_state_machine.h"

namespace vmd::daemon {
namespace {

// How long the engine gets beyond the program's own timeout.
constexpr std::chrono::milliseconds kEngineSlack{5000};
constexpr uint32_t kMaxBenchIterations = 1000000;

}  // namespace

absl::StatusOr<v1::Vm> ProbeServiceImpl::ProbeableVm(const std::string& name) {
  absl::StatusOr<v1::Vm> vm = manager_->GetVm(name);
  if (!vm.ok()) return vm.status();
  if (vm->status().state() != v1::VM_STATE_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("vm \"", name, "\" is ", StateName(vm->status().state()), "; probes need state running"));
  }
  if (vm->spec().workload() != "probe") {
    return absl::FailedPreconditionError(absl::StrCat("vm \"", name, "\" runs workload ", vm->spec().workload(),
                                                      "; probes need workload probe"));
  }
  return vm;
}

grpc::Status ProbeServiceImpl::RunProbe(grpc::ServerContext*, const v1::RunProbeRequest* req,
                                        v1::RunProbeResponse* resp) {
  absl::StatusOr<v1::Vm> vm = ProbeableVm(req->name());
  if (!vm.ok()) return ToGrpcStatus(vm.status());
  if (absl::Status s = probe::ValidateProbeRequest(*req, vm->spec().memory_mib() << 20); !s.ok()) {
    return ToGrpcStatus(s);
  }
  const uint32_t timeout_ms = req->timeout_ms() == 0 ? probe::kDefaultTimeoutMs : req->timeout_ms();
  auto result = EngineClient(manager_->EngineSocket(*vm))
                    .RunProbe(*req, std::chrono::milliseconds(timeout_ms) + kEngineSlack);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

grpc::Status ProbeServiceImpl::RunGuestBench(grpc::ServerContext*, const v1::RunGuestBenchRequest* req,
                                             v1::GuestBenchReport* resp) {
  if (req->iterations() > kMaxBenchIterations) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat("iterations: must be at most ", kMaxBenchIterations)));
  }
  absl::StatusOr<v1::Vm> vm = ProbeableVm(req->name());
  if (!vm.ok()) return ToGrpcStatus(vm.status());
  if (vm->status().backend() != v1::BACKEND_KVM) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("vm \"", req->name(), "\" runs on sim; guest micro-benchmarks time real VM exits and need kvm")));
  }
  // A million round trips of each kind take seconds, not minutes.
  auto result = EngineClient(manager_->EngineSocket(*vm)).RunGuestBench(*req, std::chrono::minutes(5));
  if (!result.ok()) return ToGrpcStatus(result.status());
  *resp = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace vmd::daemon

#include "backend/engine/engine_service.h"

#include "backend/bench/guest_bench.h"
#include "backend/rpc/grpc_status.h"

namespace vmd::engine {

void EngineService::FillStatus(v1::EngineStatus* out) {
  RunnerStatus s = runner_->Status();
  out->set_api_version(v1::API_VERSION_1);
  out->set_vm_id(vm_id_);
  switch (s.state) {
    case RunState::kRunning: out->set_state(v1::ENGINE_STATE_RUNNING); break;
    case RunState::kPaused: out->set_state(v1::ENGINE_STATE_PAUSED); break;
    case RunState::kStopped: out->set_state(v1::ENGINE_STATE_STOPPED); break;
    case RunState::kCrashed: out->set_state(v1::ENGINE_STATE_CRASHED); break;
  }
  out->set_backend(std::string(hv::BackendName(s.backend)));
  out->set_sim_profile(s.sim_profile);
  out->set_guest_counter(s.guest_counter);
  out->set_crash_reason(s.crash_reason);
  out->set_register_dump(s.register_dump);
}

grpc::Status EngineService::GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::EngineStatus* out) {
  FillStatus(out);
  return grpc::Status::OK;
}

grpc::Status EngineService::Pause(grpc::ServerContext*, const v1::PauseRequest*, v1::EngineStatus* out) {
  if (absl::Status s = runner_->Pause(); !s.ok()) return rpc::ToGrpcStatus(s);
  FillStatus(out);
  return grpc::Status::OK;
}

grpc::Status EngineService::Resume(grpc::ServerContext*, const v1::ResumeRequest*, v1::EngineStatus* out) {
  if (absl::Status s = runner_->Resume(); !s.ok()) return rpc::ToGrpcStatus(s);
  FillStatus(out);
  return grpc::Status::OK;
}

grpc::Status EngineService::Stop(grpc::ServerContext*, const v1::StopRequest* req, v1::StopResponse* out) {
  absl::StatusOr<bool> graceful = runner_->Stop(std::chrono::milliseconds(req->timeout_ms()), req->force());
  if (!graceful.ok()) return rpc::ToGrpcStatus(graceful.status());
  out->set_graceful(*graceful);
  return grpc::Status::OK;
}

grpc::Status EngineService::RunProbe(grpc::ServerContext*, const vmd::v1::RunProbeRequest* req,
                                     vmd::v1::RunProbeResponse* out) {
  absl::StatusOr<vmd::v1::RunProbeResponse> response = runner_->RunProbe(*req);
  if (!response.ok()) return rpc::ToGrpcStatus(response.status());
  *out = *std::move(response);
  out->set_backend(hv::BackendName(runner_->Status().backend));
  return grpc::Status::OK;
}

grpc::Status EngineService::SetMsrPolicy(grpc::ServerContext*, const vmd::v1::MsrPolicy* req,
                                         vmd::v1::SetMsrPolicyResponse* out) {
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> response = runner_->msr_router().SetPolicy(*req);
  if (!response.ok()) return rpc::ToGrpcStatus(response.status());
  *out = *std::move(response);
  return grpc::Status::OK;
}

grpc::Status EngineService::GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest*,
                                        vmd::v1::MsrStats* out) {
  *out = runner_->msr_router().Stats();
  return grpc::Status::OK;
}

grpc::Status EngineService::TakeMsrDenials(grpc::ServerContext*, const v1::TakeMsrDenialsRequest*,
                                           v1::MsrDenials* out) {
  for (v1::MsrDenial& d : runner_->msr_router().TakeDenials()) *out->add_denials() = std::move(d);
  return grpc::Status::OK;
}

grpc::Status EngineService::RunGuestBench(grpc::ServerContext*, const vmd::v1::RunGuestBenchRequest* req,
                                          vmd::v1::GuestBenchReport* out) {
  absl::StatusOr<vmd::v1::GuestBenchReport> report = bench::RunGuestBench(*runner_, *req);
  if (!report.ok()) return rpc::ToGrpcStatus(report.status());
  *out = *std::move(report);
  return grpc::Status::OK;
}

grpc::Status EngineService::SaveState(grpc::ServerContext*, const v1::SaveStateRequest* req,
                                      v1::SaveStateResponse* out) {
  absl::StatusOr<v1::SaveStateResponse> response = runner_->SaveState(req->dir());
  if (!response.ok()) return rpc::ToGrpcStatus(response.status());
  *out = *std::move(response);
  return grpc::Status::OK;
}

}  // namespace vmd::engine

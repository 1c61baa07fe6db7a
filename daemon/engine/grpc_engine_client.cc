#include "daemon/engine/grpc_engine_client.h"

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace vmd::daemon {
namespace {

template <typename Request, typename Response, typename Method>
absl::StatusOr<Response> Call(Method method, const Request& request, std::chrono::milliseconds deadline) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  Response response;
  grpc::Status s = method(&ctx, request, &response);
  if (!s.ok()) {
    absl::Status status = rpc::ToAbslStatus(s);
    return rpc::WithMessage(status, absl::StrCat("engine: ", status.message()));
  }
  return response;
}

}  // namespace

GrpcEngineClient::GrpcEngineClient(const std::string& socket_path)
    : stub_(engine::v1::Engine::NewStub(
          grpc::CreateChannel("unix:" + socket_path, grpc::InsecureChannelCredentials()))) {}

absl::StatusOr<engine::v1::EngineStatus> GrpcEngineClient::GetStatus(std::chrono::milliseconds deadline) {
  return Call<engine::v1::GetStatusRequest, engine::v1::EngineStatus>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->GetStatus(c, rq, rs); }, {}, deadline);
}

absl::StatusOr<engine::v1::EngineStatus> GrpcEngineClient::Pause(std::chrono::milliseconds deadline) {
  return Call<engine::v1::PauseRequest, engine::v1::EngineStatus>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->Pause(c, rq, rs); }, {}, deadline);
}

absl::StatusOr<engine::v1::EngineStatus> GrpcEngineClient::Resume(std::chrono::milliseconds deadline) {
  return Call<engine::v1::ResumeRequest, engine::v1::EngineStatus>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->Resume(c, rq, rs); }, {}, deadline);
}

absl::StatusOr<bool> GrpcEngineClient::Stop(uint32_t timeout_ms, bool force, std::chrono::milliseconds deadline) {
  engine::v1::StopRequest request;
  request.set_timeout_ms(timeout_ms);
  request.set_force(force);
  auto r = Call<engine::v1::StopRequest, engine::v1::StopResponse>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->Stop(c, rq, rs); }, request, deadline);
  if (!r.ok()) return r.status();
  return r->graceful();
}

absl::StatusOr<v1::RunProbeResponse> GrpcEngineClient::RunProbe(const v1::RunProbeRequest& request,
                                                            std::chrono::milliseconds deadline) {
  return Call<v1::RunProbeRequest, v1::RunProbeResponse>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->RunProbe(c, rq, rs); }, request, deadline);
}

absl::StatusOr<v1::GuestBenchReport> GrpcEngineClient::RunGuestBench(const v1::RunGuestBenchRequest& request,
                                                                 std::chrono::milliseconds deadline) {
  return Call<v1::RunGuestBenchRequest, v1::GuestBenchReport>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->RunGuestBench(c, rq, rs); }, request, deadline);
}

absl::StatusOr<v1::SetMsrPolicyResponse> GrpcEngineClient::SetMsrPolicy(const v1::MsrPolicy& policy,
                                                                    std::chrono::milliseconds deadline) {
  return Call<v1::MsrPolicy, v1::SetMsrPolicyResponse>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->SetMsrPolicy(c, rq, rs); }, policy, deadline);
}

absl::StatusOr<v1::MsrStats> GrpcEngineClient::GetMsrStats(std::chrono::milliseconds deadline) {
  return Call<engine::v1::GetMsrStatsRequest, v1::MsrStats>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->GetMsrStats(c, rq, rs); }, {}, deadline);
}

absl::StatusOr<engine::v1::MsrDenials> GrpcEngineClient::TakeMsrDenials(std::chrono::milliseconds deadline) {
  return Call<engine::v1::TakeMsrDenialsRequest, engine::v1::MsrDenials>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->TakeMsrDenials(c, rq, rs); }, {}, deadline);
}

absl::StatusOr<engine::v1::SaveStateResponse> GrpcEngineClient::SaveState(const std::string& dir,
                                                                     std::chrono::milliseconds deadline) {
  engine::v1::SaveStateRequest request;
  request.set_dir(dir);
  return Call<engine::v1::SaveStateRequest, engine::v1::SaveStateResponse>(
      [this](auto* c, auto& rq, auto* rs) { return stub_->SaveState(c, rq, rs); }, request, deadline);
}

}  // namespace vmd::daemon

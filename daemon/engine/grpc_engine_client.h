// EngineClient over gRPC on the engine's unix socket: one channel for the
// engine's whole life (EngineClients keeps it), not one per call.
#ifndef VMD_DAEMON_ENGINE_GRPC_ENGINE_CLIENT_H_
#define VMD_DAEMON_ENGINE_GRPC_ENGINE_CLIENT_H_

#include <memory>
#include <string>

#include "daemon/engine/engine_client.h"
#include "vmd/engine/v1/engine.grpc.pb.h"

namespace vmd::daemon {

class GrpcEngineClient final : public EngineClient {
 public:
  explicit GrpcEngineClient(const std::string& socket_path);

  absl::StatusOr<engine::v1::EngineStatus> GetStatus(std::chrono::milliseconds deadline) override;
  absl::StatusOr<engine::v1::EngineStatus> Pause(std::chrono::milliseconds deadline) override;
  absl::StatusOr<engine::v1::EngineStatus> Resume(std::chrono::milliseconds deadline) override;
  absl::StatusOr<bool> Stop(uint32_t timeout_ms, bool force, std::chrono::milliseconds deadline) override;
  absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest& request,
                                                std::chrono::milliseconds deadline) override;
  absl::StatusOr<v1::GuestBenchReport> RunGuestBench(const v1::RunGuestBenchRequest& request,
                                                     std::chrono::milliseconds deadline) override;
  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::MsrPolicy& policy,
                                                        std::chrono::milliseconds deadline) override;
  absl::StatusOr<v1::MsrStats> GetMsrStats(std::chrono::milliseconds deadline) override;
  absl::StatusOr<engine::v1::MsrDenials> TakeMsrDenials(std::chrono::milliseconds deadline) override;
  absl::StatusOr<engine::v1::SaveStateResponse> SaveState(const std::string& dir,
                                                          std::chrono::milliseconds deadline) override;

 private:
  std::unique_ptr<engine::v1::Engine::Stub> stub_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_GRPC_ENGINE_CLIENT_H_

// vmd's side of the internal engine API: one VM's engine, on its socket.
#ifndef VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_
#define VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "vmd/engine/v1/engine.grpc.pb.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::daemon {

class EngineClient {
 public:
  explicit EngineClient(const std::string& socket_path);

  absl::StatusOr<engine::v1::EngineStatus> GetStatus(std::chrono::milliseconds deadline);
  absl::StatusOr<engine::v1::EngineStatus> Pause(std::chrono::milliseconds deadline);
  absl::StatusOr<engine::v1::EngineStatus> Resume(std::chrono::milliseconds deadline);
  // Whether the guest powered off by itself.
  absl::StatusOr<bool> Stop(uint32_t timeout_ms, bool force, std::chrono::milliseconds deadline);
  absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest& request,
                                                std::chrono::milliseconds deadline);
  absl::StatusOr<v1::GuestBenchReport> RunGuestBench(const v1::RunGuestBenchRequest& request,
                                                     std::chrono::milliseconds deadline);
  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::MsrPolicy& policy,
                                                        std::chrono::milliseconds deadline);
  absl::StatusOr<v1::MsrStats> GetMsrStats(std::chrono::milliseconds deadline);
  absl::StatusOr<engine::v1::MsrDenials> TakeMsrDenials(std::chrono::milliseconds deadline);
  absl::StatusOr<engine::v1::SaveStateResponse> SaveState(const std::string& dir, std::chrono::milliseconds deadline);

 private:
  std::unique_ptr<engine::v1::Engine::Stub> stub_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_

// vmd's side of the internal engine API (vmd.engine.v1.Engine): one VM's
// engine. An interface, so that the daemon's logic is tested against a fake
// engine (tests/unit/fake_engine_client.h) as well as real ones.
#ifndef VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_
#define VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_

#include <chrono>
#include <string>

#include "absl/status/statusor.h"
#include "vmd/engine/v1/engine.pb.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::daemon {

class EngineClient {
 public:
  virtual ~EngineClient() = default;
  virtual absl::StatusOr<engine::v1::EngineStatus> GetStatus(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<engine::v1::EngineStatus> Pause(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<engine::v1::EngineStatus> Resume(std::chrono::milliseconds deadline) = 0;
  // Whether the guest powered off by itself.
  virtual absl::StatusOr<bool> Stop(uint32_t timeout_ms, bool force, std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest& request,
                                                        std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<v1::GuestBenchReport> RunGuestBench(const v1::RunGuestBenchRequest& request,
                                                             std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::MsrPolicy& policy,
                                                                std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<v1::MsrStats> GetMsrStats(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<engine::v1::MsrDenials> TakeMsrDenials(std::chrono::milliseconds deadline) = 0;
  virtual absl::StatusOr<engine::v1::SaveStateResponse> SaveState(const std::string& dir,
                                                                  std::chrono::milliseconds deadline) = 0;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_CLIENT_H_

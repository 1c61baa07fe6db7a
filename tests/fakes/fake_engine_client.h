// An engine in memory, for the daemon's logic without processes: it keeps a
// running/paused state and a policy, records every call, can be told to fail
// the next calls, and can hold a call until released (to observe locking).
#ifndef VMD_TESTS_FAKES_FAKE_ENGINE_CLIENT_H_
#define VMD_TESTS_FAKES_FAKE_ENGINE_CLIENT_H_

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/engine/engine_client.h"

namespace vmd::testing {

class FakeEngineClient final : public daemon::EngineClient {
 public:
  // What GetStatus reports.
  void set_api_version(engine::v1::ApiVersion version);
  void set_state(engine::v1::EngineState state);
  // The next calls fail with `status` (until cleared with OkStatus()).
  void FailWith(absl::Status status);
  // RunProbe waits until Release().
  void HoldProbes();
  void Release();
  // Names of the calls made, in order ("Pause", "SetMsrPolicy", ...).
  std::vector<std::string> calls();
  bool probe_started();

  absl::StatusOr<engine::v1::EngineStatus> GetStatus(std::chrono::milliseconds) override;
  absl::StatusOr<engine::v1::EngineStatus> Pause(std::chrono::milliseconds) override;
  absl::StatusOr<engine::v1::EngineStatus> Resume(std::chrono::milliseconds) override;
  absl::StatusOr<bool> Stop(uint32_t, bool, std::chrono::milliseconds) override;
  absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest&, std::chrono::milliseconds) override;
  absl::StatusOr<v1::GuestBenchReport> RunGuestBench(const v1::RunGuestBenchRequest&,
                                                     std::chrono::milliseconds) override;
  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::MsrPolicy& policy,
                                                        std::chrono::milliseconds) override;
  absl::StatusOr<v1::MsrStats> GetMsrStats(std::chrono::milliseconds) override;
  absl::StatusOr<engine::v1::MsrDenials> TakeMsrDenials(std::chrono::milliseconds) override;
  absl::StatusOr<engine::v1::SaveStateResponse> SaveState(const std::string& dir, std::chrono::milliseconds) override;

 private:
  // Records `call`; the failure to return, if one is set.
  absl::Status Call(const std::string& call);
  engine::v1::EngineStatus StatusLocked() const;

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> calls_;
  absl::Status failure_;
  engine::v1::ApiVersion api_version_ = engine::v1::API_VERSION_1;
  engine::v1::EngineState state_ = engine::v1::ENGINE_STATE_RUNNING;
  bool hold_probes_ = false;
  bool probe_started_ = false;
};

}  // namespace vmd::testing

#endif  // VMD_TESTS_FAKES_FAKE_ENGINE_CLIENT_H_

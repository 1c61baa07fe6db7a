#include "tests/fakes/fake_engine_client.h"

namespace vmd::testing {

void FakeEngineClient::set_api_version(engine::v1::ApiVersion version) {
  std::lock_guard lock(mu_);
  api_version_ = version;
}

void FakeEngineClient::set_state(engine::v1::EngineState state) {
  std::lock_guard lock(mu_);
  state_ = state;
}

void FakeEngineClient::FailWith(absl::Status status) {
  std::lock_guard lock(mu_);
  failure_ = std::move(status);
}

void FakeEngineClient::HoldProbes() {
  std::lock_guard lock(mu_);
  hold_probes_ = true;
}

void FakeEngineClient::Release() {
  std::lock_guard lock(mu_);
  hold_probes_ = false;
  cv_.notify_all();
}

std::vector<std::string> FakeEngineClient::calls() {
  std::lock_guard lock(mu_);
  return calls_;
}

bool FakeEngineClient::probe_started() {
  std::lock_guard lock(mu_);
  return probe_started_;
}

absl::Status FakeEngineClient::Call(const std::string& call) {
  std::lock_guard lock(mu_);
  calls_.push_back(call);
  return failure_;
}

engine::v1::EngineStatus FakeEngineClient::StatusLocked() const {
  engine::v1::EngineStatus status;
  status.set_api_version(api_version_);
  status.set_state(state_);
  status.set_backend("sim");
  return status;
}

absl::StatusOr<engine::v1::EngineStatus> FakeEngineClient::GetStatus(std::chrono::milliseconds) {
  if (absl::Status s = Call("GetStatus"); !s.ok()) return s;
  std::lock_guard lock(mu_);
  return StatusLocked();
}

absl::StatusOr<engine::v1::EngineStatus> FakeEngineClient::Pause(std::chrono::milliseconds) {
  if (absl::Status s = Call("Pause"); !s.ok()) return s;
  std::lock_guard lock(mu_);
  state_ = engine::v1::ENGINE_STATE_PAUSED;
  return StatusLocked();
}

absl::StatusOr<engine::v1::EngineStatus> FakeEngineClient::Resume(std::chrono::milliseconds) {
  if (absl::Status s = Call("Resume"); !s.ok()) return s;
  std::lock_guard lock(mu_);
  state_ = engine::v1::ENGINE_STATE_RUNNING;
  return StatusLocked();
}

absl::StatusOr<bool> FakeEngineClient::Stop(uint32_t, bool, std::chrono::milliseconds) {
  if (absl::Status s = Call("Stop"); !s.ok()) return s;
  return true;
}

absl::StatusOr<v1::RunProbeResponse> FakeEngineClient::RunProbe(const v1::RunProbeRequest& request,
                                                                std::chrono::milliseconds) {
  if (absl::Status s = Call("RunProbe"); !s.ok()) return s;
  std::unique_lock lock(mu_);
  probe_started_ = true;
  cv_.wait(lock, [&] { return !hold_probes_; });
  v1::RunProbeResponse response;
  for (int i = 0; i < request.ops_size(); ++i) response.add_results()->set_outcome(v1::PROBE_OUTCOME_OK);
  return response;
}

absl::StatusOr<v1::GuestBenchReport> FakeEngineClient::RunGuestBench(const v1::RunGuestBenchRequest&,
                                                                     std::chrono::milliseconds) {
  if (absl::Status s = Call("RunGuestBench"); !s.ok()) return s;
  return v1::GuestBenchReport();
}

absl::StatusOr<v1::SetMsrPolicyResponse> FakeEngineClient::SetMsrPolicy(const v1::MsrPolicy& policy,
                                                                         std::chrono::milliseconds) {
  if (absl::Status s = Call("SetMsrPolicy"); !s.ok()) return s;
  v1::SetMsrPolicyResponse response;
  *response.mutable_policy() = policy;
  return response;
}

absl::StatusOr<v1::MsrStats> FakeEngineClient::GetMsrStats(std::chrono::milliseconds) {
  if (absl::Status s = Call("GetMsrStats"); !s.ok()) return s;
  return v1::MsrStats();
}

absl::StatusOr<engine::v1::MsrDenials> FakeEngineClient::TakeMsrDenials(std::chrono::milliseconds) {
  if (absl::Status s = Call("TakeMsrDenials"); !s.ok()) return s;
  return engine::v1::MsrDenials();
}

absl::StatusOr<engine::v1::SaveStateResponse> FakeEngineClient::SaveState(const std::string&,
                                                                          std::chrono::milliseconds) {
  if (absl::Status s = Call("SaveState"); !s.ok()) return s;
  return engine::v1::SaveStateResponse();
}

}  // namespace vmd::testing

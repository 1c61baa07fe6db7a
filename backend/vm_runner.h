// Runs one VM: guest memory, devices, one thread per vCPU driving
// Vcpu::Run(), and the pause/resume/stop/crash state machine. Backend-neutral:
// the same loop runs kvm and sim.
#ifndef VMD_BACKEND_VM_RUNNER_H_
#define VMD_BACKEND_VM_RUNNER_H_

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/devices/io_bus.h"
#include "backend/devices/serial.h"
#include "backend/engine_config.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/memory/guest_memory.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::engine {

enum class RunState { kRunning, kPaused, kStopped, kCrashed };
const char* RunStateName(RunState state);

struct RunnerStatus {
  RunState state;
  hv::BackendKind backend;
  uint64_t guest_counter;
  std::string crash_reason;
  std::string register_dump;
};

class VmRunner {
 public:
  // Opens the backend (auto: kvm if usable, else sim), builds the VM and its
  // devices, and loads the guest. Nothing runs until Start().
  static absl::StatusOr<std::unique_ptr<VmRunner>> Create(const EngineConfig& config);
  ~VmRunner();

  absl::Status Start();
  // Parks every vCPU outside Run(); returns once all are parked.
  absl::Status Pause();
  absl::Status Resume();
  // Asks the guest to power off and waits up to `timeout`; then (or at once
  // with `force`, or when paused, where the guest cannot answer) stops every
  // vCPU. Returns whether the guest powered off by itself.
  absl::StatusOr<bool> Stop(std::chrono::milliseconds timeout, bool force);
  // Blocks until the VM is stopped or crashed, and its vCPU threads are done.
  void WaitUntilDone();
  RunnerStatus Status();

  // Runs a probe program on vCPU 0 through the guest mailbox (workload
  // "probe" only) and returns what the guest saw, op by op.
  absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest& request);

 private:
  VmRunner(const EngineConfig& config) : config_(config) {}
  void VcpuLoop(hv::Vcpu* vcpu);
  // Ends the VM with `state`; the first caller wins. Requires mu_.
  void FinishLocked(RunState state, std::string reason, std::string dump);
  void KickAll();

  const EngineConfig config_;
  std::unique_ptr<hv::Hypervisor> hypervisor_;
  std::unique_ptr<hv::GuestMemory> memory_;
  std::unique_ptr<hv::Vm> vm_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpus_;
  std::unique_ptr<ConsoleLog> console_;
  std::unique_ptr<Serial16550> serial_;
  IoBus io_bus_;

  std::mutex mu_;
  std::condition_variable cv_;
  RunState state_ = RunState::kRunning;
  bool started_ = false;
  bool pause_requested_ = false;
  bool powered_off_ = false;
  uint32_t parked_ = 0;
  uint32_t live_threads_ = 0;
  std::string crash_reason_;
  std::string register_dump_;
  std::vector<std::thread> threads_;

  std::mutex probe_mu_;  // one probe program at a time
  uint32_t probe_sequence_ = 0;
  uint32_t probe_done_ = 0;  // guarded by mu_
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_VM_RUNNER_H_

// Runs one VM: guest memory, devices, one thread per vCPU driving
// Vcpu::Run(), and the pause/resume/stop/crash state machine. Backend-neutral:
// the same loop runs kvm and sim.
#ifndef VMD_BACKEND_VM_RUNNER_H_
#define VMD_BACKEND_VM_RUNNER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <optional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/bench/bench_device.h"
#include "backend/devices/io_bus.h"
#include "backend/devices/serial.h"
#include "backend/engine_config.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/memory/guest_memory.h"
#include "backend/msr_policy_runtime.h"
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
  absl::StatusOr<vmd::v1::RunProbeResponse> RunProbe(const vmd::v1::RunProbeRequest& request);

  // Installs an MSR policy: the VM's filter and the engine's answers change
  // together while every vCPU is parked outside Run(), so no access is
  // trapped under one policy and answered under another.
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> SetMsrPolicy(const vmd::v1::MsrPolicy& policy);
  // Puts the rules and handlers of `overlay` in front of the VM's policy
  // (the guest micro-benchmark's trapped MSR) until it is cleared; the
  // policy SetMsrPolicy sets, also meanwhile, stays the VM's policy.
  absl::Status SetMsrOverlay(std::optional<vmd::v1::MsrPolicy> overlay);
  MsrPolicyRuntime& msr_policy() { return msr_policy_; }

  // For the guest micro-benchmarks (backend/bench): runs mailbox ops as
  // they are, the engine-internal VMD_PROBE_BENCH_* kinds included, on vCPU 0
  // (workload "probe" only) and returns them with the guest's results.
  absl::StatusOr<std::vector<vmd_probe_op>> RunMailboxOps(std::span<const vmd_probe_op> ops,
                                                          std::chrono::milliseconds timeout);
  const EngineConfig& config() const { return config_; }
  hv::Vm& vm() { return *vm_; }
  hv::GuestMemory& memory() { return *memory_; }
  bench::BenchDevice& bench_device() { return bench_device_; }

 private:
  explicit VmRunner(const EngineConfig& config)
      : config_(config), msr_policy_(msr::MsrTopology{.cores = config.vcpus, .threads = config.vcpus}) {}
  void VcpuLoop(hv::Vcpu* vcpu);
  // Ends the VM with `state`; the first caller wins. Requires mu_.
  void FinishLocked(RunState state, std::string reason, std::string dump);
  void KickAll();
  // Installs the overlay (if any) in front of `policy`. Requires control_mu_.
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> InstallMsrPolicy(const vmd::v1::MsrPolicy& policy);
  // Runs `fn` under mu_ with no vCPU inside Run() (parking running vCPUs).
  absl::Status WithVcpusParked(const std::function<absl::Status()>& fn);

  const EngineConfig config_;
  std::unique_ptr<hv::Hypervisor> hypervisor_;
  std::unique_ptr<hv::GuestMemory> memory_;
  std::unique_ptr<hv::Vm> vm_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpus_;
  std::unique_ptr<ConsoleLog> console_;
  std::unique_ptr<Serial16550> serial_;
  bench::BenchDevice bench_device_;  // VMD_PORT_BENCH
  IoBus io_bus_;

  MsrPolicyRuntime msr_policy_;
  vmd::v1::MsrPolicy user_msr_policy_;                    // guarded by control_mu_
  std::optional<vmd::v1::MsrPolicy> msr_overlay_;         // guarded by control_mu_

  std::mutex control_mu_;  // serializes Pause, Resume and SetMsrPolicy
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

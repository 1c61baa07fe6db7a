// Runs one VM: assembles it (guest memory, the VM and its vCPUs, the devices
// on the bus, the MSR exit router), boots the firmware or restores a saved
// state, runs one thread per vCPU through the exit dispatcher, and keeps the
// pause/resume/stop/crash state machine. Backend-neutral: the same for kvm
// and sim.
#ifndef VMD_BACKEND_ENGINE_VM_RUNNER_H_
#define VMD_BACKEND_ENGINE_VM_RUNNER_H_

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/bench/bench_device.h"
#include "backend/devices/console_log.h"
#include "backend/devices/device_bus.h"
#include "backend/devices/power_port.h"
#include "backend/devices/serial.h"
#include "backend/engine/engine_config.h"
#include "backend/engine/engine_vpmu.h"
#include "backend/engine/probe_mailbox.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/memory/guest_memory.h"
#include "backend/vcpu/exit_dispatcher.h"
#include "backend/vcpu/msr_exit_router.h"
#include "vmd/engine/v1/engine.pb.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::engine {

enum class RunState { kRunning, kPaused, kStopped, kCrashed };
const char* RunStateName(RunState state);

struct RunnerStatus {
  RunState state;
  hv::BackendKind backend;
  std::string sim_profile;  // the profile a sim VM models; empty on kvm
  uint64_t guest_counter;
  std::string crash_reason;
  std::string register_dump;
};

class VmRunner {
 public:
  // Opens the backend (auto: kvm if usable, else sim), builds the VM and its
  // devices, and boots the firmware -- or, with config.restore, restores the
  // saved state. Nothing runs until Start().
  static absl::StatusOr<std::unique_ptr<VmRunner>> Create(const EngineConfig& config);
  ~VmRunner();

  // Starts the vCPU threads; with config.start_paused they park at once and
  // the VM is paused until Resume().
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

  // Writes the paused VM's whole state to `dir` (backend/snapshot): the VM,
  // every vCPU and device, the MSR handlers' values, and guest memory.
  absl::StatusOr<v1::SaveStateResponse> SaveState(const std::string& dir);

  // A probe program on vCPU 0 (workload "probe" only).
  absl::StatusOr<vmd::v1::RunProbeResponse> RunProbe(const vmd::v1::RunProbeRequest& request);
  // Mailbox ops as they are (backend/bench uses the VMD_PROBE_BENCH_* kinds).
  absl::StatusOr<std::vector<vmd_probe_op>> RunMailboxOps(std::span<const vmd_probe_op> ops,
                                                          std::chrono::milliseconds timeout);

  const EngineConfig& config() const { return config_; }
  hv::Vm& vm() { return *vm_; }
  const hv::Hypervisor& hypervisor() const { return *hypervisor_; }
  hv::GuestMemory& memory() { return *memory_; }
  DeviceBus& bus() { return bus_; }
  MsrExitRouter& msr_router() { return msr_router_; }
  bench::BenchDevice& bench_device() { return bench_device_; }
  // Whether the engine's vPMU serves this VM's PMU MSRs.
  bool has_engine_vpmu() const { return vpmu_ != nullptr; }

 private:
  explicit VmRunner(const EngineConfig& config);
  // The two ways a VM gets its first state.
  absl::Status Boot();
  absl::Status Restore();
  absl::Status CreateVcpus();
  absl::Status AttachVpmu();
  absl::Status DeliverPmi(hv::Vcpu& vcpu);
  absl::Status AttachDevices();
  void VcpuLoop(hv::Vcpu* vcpu);
  // Ends the VM with `state`; the first caller wins. Requires mu_.
  void FinishLocked(RunState state, std::string reason, std::string dump);
  void SetStateLocked(RunState state);
  void KickAll();
  // Runs `fn` under mu_ with no vCPU inside Run() (parking running vCPUs).
  absl::Status WithVcpusParked(const std::function<absl::Status()>& fn);

  const EngineConfig config_;
  std::unique_ptr<hv::Hypervisor> hypervisor_;
  std::unique_ptr<hv::GuestMemory> memory_;
  std::unique_ptr<hv::Vm> vm_;
  std::vector<std::unique_ptr<hv::Vcpu>> vcpus_;

  DeviceBus bus_;
  std::unique_ptr<ConsoleLog> console_;
  std::unique_ptr<Serial16550> serial_;
  std::unique_ptr<PowerPort> power_port_;
  std::unique_ptr<ProbeMailbox> probe_mailbox_;
  bench::BenchDevice bench_device_;  // VMD_PORT_BENCH
  MsrExitRouter msr_router_;
  std::unique_ptr<EngineVpmu> vpmu_;  // with a PMU grant it serves
  ExitDispatcher exits_;

  std::mutex control_mu_;  // serializes Pause, Resume, SaveState and MSR filter changes
  std::mutex mu_;
  std::condition_variable cv_;
  RunState state_ = RunState::kPaused;  // until Start()
  bool started_ = false;
  bool pause_requested_ = false;
  bool powered_off_ = false;
  uint32_t parked_ = 0;
  uint32_t live_threads_ = 0;
  std::string crash_reason_;
  std::string register_dump_;
  std::vector<std::thread> threads_;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_VM_RUNNER_H_

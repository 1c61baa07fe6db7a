#include "backend/vm_runner.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"
#include "backend/probe_program.h"
#include "google/protobuf/util/json_util.h"

namespace vmd::engine {

const char* RunStateName(RunState state) {
  switch (state) {
    case RunState::kRunning: return "running";
    case RunState::kPaused: return "paused";
    case RunState::kStopped: return "stopped";
    case RunState::kCrashed: return "crashed";
  }
  return "unknown";
}

namespace {

absl::StatusOr<std::unique_ptr<hv::Hypervisor>> OpenBackend(const EngineConfig& config) {
  if (config.backend == "kvm") return hv::OpenHypervisor(hv::BackendKind::kKvm, "");
  if (config.backend == "sim") return hv::OpenHypervisor(hv::BackendKind::kSim, config.sim_profile);
  // auto: kvm whenever it is usable here, else the sim model.
  auto kvm = hv::OpenHypervisor(hv::BackendKind::kKvm, "");
  if (kvm.ok()) return kvm;
  return hv::OpenHypervisor(hv::BackendKind::kSim, config.sim_profile);
}

uint32_t WorkloadId(const std::string& name) {
  if (name == "counter") return VMD_WORKLOAD_COUNTER;
  if (name == "probe") return VMD_WORKLOAD_PROBE;
  return VMD_WORKLOAD_IDLE;
}

}  // namespace

absl::StatusOr<std::unique_ptr<VmRunner>> VmRunner::Create(const EngineConfig& config) {
  std::unique_ptr<VmRunner> r(new VmRunner(config));
  auto hv = OpenBackend(config);
  if (!hv.ok()) return hv.status();
  r->hypervisor_ = *std::move(hv);

  auto memory = hv::GuestMemory::Create(config.memory_mib << 20);
  if (!memory.ok()) return memory.status();
  r->memory_ = *std::move(memory);
  *r->memory_->At<vmd_boot_info>(VMD_BOOT_INFO_GPA) = {
      .magic = VMD_BOOT_INFO_MAGIC,
      .workload = WorkloadId(config.workload),
      .vcpus = config.vcpus,
      .heartbeat_ms = config.heartbeat_ms,
      .memory_bytes = r->memory_->size(),
      .tsc_khz = 0,  // filled in by the backend that knows it
  };

  auto vm = r->hypervisor_->CreateVm({.vcpus = config.vcpus,
                                      .memory_bytes = r->memory_->size(),
                                      .sim_profile = config.sim_profile});
  if (!vm.ok()) return vm.status();
  r->vm_ = *std::move(vm);
  if (absl::Status s = r->vm_->SetGuestMemory(*r->memory_); !s.ok()) return s;
  if (absl::Status s = r->vm_->LoadGuest(*r->memory_); !s.ok()) return s;
  for (uint32_t i = 0; i < config.vcpus; ++i) {
    auto vcpu = r->vm_->CreateVcpu(i);
    if (!vcpu.ok()) return vcpu.status();
    r->vcpus_.push_back(*std::move(vcpu));
  }

  if (!config.msr_policy_json.empty()) {
    vmd::v1::MsrPolicy policy;
    if (!google::protobuf::util::JsonStringToMessage(config.msr_policy_json, &policy).ok()) {
      return absl::InvalidArgumentError("config field 'msr_policy': not an MsrPolicy in canonical JSON");
    }
    if (auto applied = r->SetMsrPolicy(policy); !applied.ok()) return applied.status();
  }

  auto console = ConsoleLog::Open(config.console_path());
  if (!console.ok()) return console.status();
  r->console_ = *std::move(console);
  r->serial_ = std::make_unique<Serial16550>(r->console_.get());
  r->io_bus_.Register(VMD_PORT_COM1, Serial16550::kPorts, r->serial_.get());
  r->io_bus_.Register(VMD_PORT_BENCH, bench::BenchDevice::kPorts, &r->bench_device_);
  return r;
}

VmRunner::~VmRunner() {
  {
    std::lock_guard lock(mu_);
    FinishLocked(RunState::kStopped, "engine shutting down", "");
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

absl::Status VmRunner::Start() {
  std::lock_guard lock(mu_);
  if (started_) return absl::FailedPreconditionError("VM already started");
  started_ = true;
  live_threads_ = static_cast<uint32_t>(vcpus_.size());
  for (auto& vcpu : vcpus_) threads_.emplace_back(&VmRunner::VcpuLoop, this, vcpu.get());
  return absl::OkStatus();
}

void VmRunner::KickAll() {
  for (auto& vcpu : vcpus_) vcpu->Kick();
}

void VmRunner::FinishLocked(RunState state, std::string reason, std::string dump) {
  if (state_ == RunState::kStopped || state_ == RunState::kCrashed) return;
  state_ = state;
  crash_reason_ = std::move(reason);
  register_dump_ = std::move(dump);
  KickAll();
  cv_.notify_all();
}

void VmRunner::VcpuLoop(hv::Vcpu* vcpu) {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (pause_requested_ && state_ != RunState::kStopped && state_ != RunState::kCrashed) {
        ++parked_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !pause_requested_ || state_ == RunState::kStopped || state_ == RunState::kCrashed; });
        --parked_;
      }
      if (state_ == RunState::kStopped || state_ == RunState::kCrashed) break;
    }
    absl::StatusOr<hv::VcpuExit> exit = vcpu->Run();
    if (!exit.ok()) {
      std::lock_guard lock(mu_);
      FinishLocked(RunState::kCrashed, absl::StrCat("vcpu ", vcpu->id(), ": ", exit.status().message()),
                   vcpu->DumpRegisters());
      break;
    }
    switch (exit->kind) {
      case hv::ExitKind::kInterrupted:
        break;
      case hv::ExitKind::kIoOut:
        if (exit->port == VMD_PORT_POWER) {
          console_->Flush();
          std::lock_guard lock(mu_);
          powered_off_ = true;
          FinishLocked(RunState::kStopped, "", "");
        } else if (exit->port == VMD_PORT_PROBE_DONE && exit->io_data.size() == 4) {
          uint32_t sequence;
          std::memcpy(&sequence, exit->io_data.data(), sizeof(sequence));
          std::lock_guard lock(mu_);
          probe_done_ = sequence;
          cv_.notify_all();
        } else {
          io_bus_.Out(exit->port, exit->io_data);
        }
        break;
      case hv::ExitKind::kIoIn:
        io_bus_.In(exit->port, exit->io_data);
        vcpu->CompleteIoIn(exit->io_data);
        break;
      case hv::ExitKind::kMsrRead:
      case hv::ExitKind::kMsrWrite: {
        // Only what the MSR policy traps exits here (seed 001): it answers.
        msr::MsrAccessResult r =
            msr_policy_.Handle(exit->msr_index, exit->kind == hv::ExitKind::kMsrWrite, exit->msr_data);
        vcpu->CompleteMsr(r.value, r.gp);
        break;
      }
      case hv::ExitKind::kShutdown:
      case hv::ExitKind::kInternalError: {
        std::string dump = vcpu->DumpRegisters();
        std::lock_guard lock(mu_);
        FinishLocked(RunState::kCrashed,
                     absl::StrCat("vcpu ", vcpu->id(), ": ", hv::ExitKindName(exit->kind), ": ", exit->reason),
                     std::move(dump));
        break;
      }
    }
  }
  std::lock_guard lock(mu_);
  --live_threads_;
  cv_.notify_all();
}

absl::Status VmRunner::Pause() {
  std::lock_guard control(control_mu_);
  std::unique_lock lock(mu_);
  if (state_ != RunState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("cannot pause: VM is ", RunStateName(state_)));
  }
  pause_requested_ = true;
  KickAll();
  cv_.wait(lock, [&] { return parked_ == live_threads_ || state_ != RunState::kRunning; });
  if (state_ != RunState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat("VM became ", RunStateName(state_), " while pausing"));
  }
  state_ = RunState::kPaused;
  return absl::OkStatus();
}

absl::Status VmRunner::Resume() {
  std::lock_guard control(control_mu_);
  std::lock_guard lock(mu_);
  if (state_ != RunState::kPaused) {
    return absl::FailedPreconditionError(absl::StrCat("cannot resume: VM is ", RunStateName(state_)));
  }
  pause_requested_ = false;
  state_ = RunState::kRunning;
  cv_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<bool> VmRunner::Stop(std::chrono::milliseconds timeout, bool force) {
  std::unique_lock lock(mu_);
  if (state_ == RunState::kStopped || state_ == RunState::kCrashed) return powered_off_;
  if (!force && state_ == RunState::kRunning) {
    lock.unlock();
    absl::Status s = vm_->SignalMsi(0, VMD_VECTOR_SHUTDOWN);
    lock.lock();
    if (s.ok()) {
      cv_.wait_for(lock, timeout, [&] { return state_ == RunState::kStopped || state_ == RunState::kCrashed; });
    }
  }
  FinishLocked(RunState::kStopped, "", "");
  cv_.wait(lock, [&] { return live_threads_ == 0; });
  return powered_off_;
}

void VmRunner::WaitUntilDone() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    return (state_ == RunState::kStopped || state_ == RunState::kCrashed) && live_threads_ == 0;
  });
}

RunnerStatus VmRunner::Status() {
  std::lock_guard lock(mu_);
  std::atomic_ref<uint64_t> counter(memory_->At<vmd_guest_status>(VMD_GUEST_STATUS_GPA)->counter);
  return {state_, hypervisor_->kind(), counter.load(std::memory_order_relaxed), crash_reason_, register_dump_};
}

}  // namespace vmd::engine

namespace vmd::engine {

absl::StatusOr<vmd::v1::RunProbeResponse> VmRunner::RunProbe(const vmd::v1::RunProbeRequest& request) {
  if (config_.workload != "probe") {
    return absl::FailedPreconditionError(
        absl::StrCat("probe programs need workload probe; this VM runs ", config_.workload));
  }
  if (absl::Status s = probe::ValidateProbeRequest(request, memory_->size()); !s.ok()) return s;
  const auto timeout =
      std::chrono::milliseconds(request.timeout_ms() == 0 ? probe::kDefaultTimeoutMs : request.timeout_ms());
  absl::StatusOr<std::vector<vmd_probe_op>> done = RunMailboxOps(probe::EncodeProbe(request), timeout);
  if (!done.ok()) return done.status();
  return probe::DecodeProbe(*done);
}

}  // namespace vmd::engine

namespace vmd::engine {

absl::Status VmRunner::WithVcpusParked(const std::function<absl::Status()>& fn) {
  std::unique_lock lock(mu_);
  // Paused (or not yet started) vCPUs are parked already.
  const bool park = started_ && state_ == RunState::kRunning;
  if (park) {
    pause_requested_ = true;
    KickAll();
    cv_.wait(lock, [&] { return parked_ == live_threads_ || state_ != RunState::kRunning; });
  }
  absl::Status s = fn();
  if (park) {
    pause_requested_ = false;
    cv_.notify_all();
  }
  return s;
}

absl::StatusOr<vmd::v1::SetMsrPolicyResponse> VmRunner::SetMsrPolicy(const vmd::v1::MsrPolicy& policy) {
  std::lock_guard control(control_mu_);
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> response = InstallMsrPolicy(policy);
  if (response.ok()) user_msr_policy_ = policy;
  return response;
}

absl::Status VmRunner::SetMsrOverlay(std::optional<vmd::v1::MsrPolicy> overlay) {
  std::lock_guard control(control_mu_);
  std::optional<vmd::v1::MsrPolicy> previous = std::move(msr_overlay_);
  msr_overlay_ = std::move(overlay);
  absl::Status s = InstallMsrPolicy(user_msr_policy_).status();
  if (!s.ok()) msr_overlay_ = std::move(previous);
  return s;
}

absl::StatusOr<vmd::v1::SetMsrPolicyResponse> VmRunner::InstallMsrPolicy(const vmd::v1::MsrPolicy& policy) {
  vmd::v1::MsrPolicy effective = policy;
  if (msr_overlay_) {
    // First match wins: the overlay's rules go in front.
    effective.clear_rules();
    for (const auto& r : msr_overlay_->rules()) *effective.add_rules() = r;
    for (const auto& r : policy.rules()) *effective.add_rules() = r;
    for (const auto& h : msr_overlay_->handlers()) *effective.add_handlers() = h;
  }
  absl::StatusOr<MsrPolicyRuntime::Prepared> prepared = msr_policy_.Prepare(effective);
  if (!prepared.ok()) return prepared.status();
  vmd::v1::SetMsrPolicyResponse response;
  *response.mutable_policy() = policy;
  *response.mutable_filter() = prepared->compiled->Summary();
  for (const std::string& w : prepared->compiled->warnings) response.add_warnings(w);
  absl::Status s = WithVcpusParked([&] {
    if (absl::Status f = vm_->SetMsrFilter(prepared->compiled->filter); !f.ok()) return f;
    msr_policy_.Install(*std::move(prepared));
    return absl::OkStatus();
  });
  if (!s.ok()) return s;
  return response;
}

}  // namespace vmd::engine

namespace vmd::engine {

absl::StatusOr<std::vector<vmd_probe_op>> VmRunner::RunMailboxOps(std::span<const vmd_probe_op> ops,
                                                                  std::chrono::milliseconds timeout) {
  if (config_.workload != "probe") {
    return absl::FailedPreconditionError(
        absl::StrCat("mailbox programs need workload probe; this VM runs ", config_.workload));
  }
  if (ops.empty() || ops.size() > VMD_PROBE_MAX_OPS) {
    return absl::InvalidArgumentError(
        absl::StrCat("a mailbox program has 1 to ", VMD_PROBE_MAX_OPS, " ops, not ", ops.size()));
  }
  std::lock_guard probe_lock(probe_mu_);
  auto* mailbox = memory_->At<vmd_probe_mailbox>(VMD_PROBE_MAILBOX_GPA);
  uint32_t sequence;
  {
    std::lock_guard lock(mu_);
    if (state_ != RunState::kRunning) {
      return absl::FailedPreconditionError(absl::StrCat("cannot run a mailbox program: VM is ",
                                                        RunStateName(state_)));
    }
    mailbox->magic = VMD_PROBE_MAGIC;
    mailbox->nops = static_cast<uint32_t>(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      vmd_probe_op& m = mailbox->ops[i];
      m = ops[i];
      m.status = VMD_PROBE_PENDING;
      m.vector = 0;
      std::memset(m.out, 0, sizeof(m.out));
    }
    sequence = ++probe_sequence_;
    std::atomic_ref<uint32_t>(mailbox->sequence).store(sequence, std::memory_order_release);
  }
  if (absl::Status s = vm_->SignalMsi(0, VMD_VECTOR_PROBE); !s.ok()) return s;
  std::unique_lock lock(mu_);
  bool finished = cv_.wait_for(lock, timeout, [&] { return probe_done_ == sequence || state_ != RunState::kRunning; });
  if (probe_done_ != sequence) {
    if (!finished) {
      return absl::DeadlineExceededError(
          absl::StrCat("the guest did not finish the mailbox program within ", timeout.count(), " ms"));
    }
    return absl::AbortedError(absl::StrCat("the VM became ", RunStateName(state_), " during the mailbox program"));
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return std::vector<vmd_probe_op>(mailbox->ops, mailbox->ops + ops.size());
}

}  // namespace vmd::engine

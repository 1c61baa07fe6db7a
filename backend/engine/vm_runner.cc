#include "backend/engine/vm_runner.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "backend/cpu/cpu_vendor.h"
#include "backend/cpu/host_profiles.h"
#include "backend/guest/firmware_loader.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/msi.h"
#include "backend/pmu/guest_pmu_leaves.h"
#include "backend/snapshot/snapshot_files.h"
#include "backend/snapshot/state_codec.h"

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

// How often a graceful stop repeats its request while the guest has not acted.
constexpr std::chrono::milliseconds kShutdownRepeat{100};

absl::StatusOr<std::unique_ptr<hv::Hypervisor>> OpenBackend(const EngineConfig& config) {
  if (config.backend() == vmd::v1::BACKEND_KVM) return hv::OpenHypervisor(hv::BackendKind::kKvm, "");
  if (config.backend() == vmd::v1::BACKEND_SIM) return hv::OpenHypervisor(hv::BackendKind::kSim, config.sim_profile());
  // auto: kvm whenever it is usable here, else the sim model.
  auto kvm = hv::OpenHypervisor(hv::BackendKind::kKvm, "");
  if (kvm.ok()) return kvm;
  return hv::OpenHypervisor(hv::BackendKind::kSim, config.sim_profile());
}

uint32_t WorkloadId(const std::string& name) {
  if (name == "counter") return VMD_WORKLOAD_COUNTER;
  if (name == "probe") return VMD_WORKLOAD_PROBE;
  return VMD_WORKLOAD_IDLE;
}

vmd::v1::Backend BackendOf(hv::BackendKind kind) {
  return kind == hv::BackendKind::kKvm ? vmd::v1::BACKEND_KVM : vmd::v1::BACKEND_SIM;
}

hv::MemoryMapping MappingOf(v1::MemoryMapping mapping) {
  return mapping == v1::MEMORY_MAPPING_SHARED ? hv::MemoryMapping::kShared : hv::MemoryMapping::kPrivate;
}

}  // namespace

VmRunner::VmRunner(const EngineConfig& config)
    : config_(config),
      msr_router_(msr::MsrTopology{.cores = config.vcpus(), .threads = config.vcpus()},
                  [this](const msr::MsrFilter& filter, const std::function<void()>& commit) {
                    return WithVcpusParked([&] {
                      if (absl::Status s = vm_->SetMsrFilter(filter); !s.ok()) return s;
                      commit();
                      return absl::OkStatus();
                    });
                  }),
      exits_(bus_, msr_router_) {}

absl::StatusOr<std::unique_ptr<VmRunner>> VmRunner::Create(const EngineConfig& config) {
  std::unique_ptr<VmRunner> r(new VmRunner(config));
  auto hv = OpenBackend(config);
  if (!hv.ok()) return hv.status();
  r->hypervisor_ = *std::move(hv);
  absl::Status built = config.has_restore() ? r->Restore() : r->Boot();
  if (!built.ok()) return built;
  return r;
}

absl::Status VmRunner::CreateVcpus() {
  hv::VmConfig vm_config{.vcpus = config_.vcpus(), .sim_profile = config_.sim_profile()};
  if (config_.has_pmu()) vm_config.cpuid.pmu = pmu::LeavesOf(config_.pmu());
  vm_config.cpuid.vendor = cpu::ParseCpuVendor(config_.cpu_vendor());
  auto vm = hypervisor_->CreateVm(vm_config);
  if (!vm.ok()) return vm.status();
  vm_ = *std::move(vm);
  if (absl::Status s = vm_->MapMemory(*memory_); !s.ok()) return s;
  for (uint32_t i = 0; i < config_.vcpus(); ++i) {
    auto vcpu = vm_->CreateVcpu(i);
    if (!vcpu.ok()) return vcpu.status();
    vcpus_.push_back(*std::move(vcpu));
  }
  return AttachVpmu();
}

// The engine's vPMU serves a grant of the engine layer, and every grant on
// sim (whose model of KVM's in-kernel vPMU is the same register model). A
// grant of KVM's own vPMU on kvm is KVM's: the CPUID above programs it.
absl::Status VmRunner::AttachVpmu() {
  if (!config_.has_pmu() || config_.pmu().version() == 0) return absl::OkStatus();
  const bool engine_layer = config_.pmu().layer() == vmd::v1::PMU_LAYER_ENGINE;
  if (!engine_layer && hypervisor_->kind() == hv::BackendKind::kKvm) {
    if (config_.pmu().perf_capabilities() != 0 || config_.pmu().has_event_filter()) {
      return absl::UnimplementedError(
          "pmu: a grant of KVM's in-kernel vPMU with PERF_CAPABILITIES or an event filter needs their KVM "
          "programming (KVM_SET_MSRS, KVM_SET_PMU_EVENT_FILTER), which this engine does not have yet");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> tsc_khz = vcpus_[0]->TscKhz();
  if (!tsc_khz.ok()) return tsc_khz.status();
  vpmu_ = std::make_unique<EngineVpmu>(config_.pmu(), config_.vcpus(), *tsc_khz);
  return vpmu_->Attach(msr_router_);
}

// A counter overflowed with its PMI bit set: the interrupt goes where the
// guest's performance-counter LVT says (kvm_pmu_deliver_pmi ->
// kvm_apic_local_deliver(APIC_LVTPC)), as a fixed interrupt to this vCPU.
// Masked, or another delivery mode than fixed (NMI, SMI): not delivered.
absl::Status VmRunner::DeliverPmi(hv::Vcpu& vcpu) {
  constexpr uint32_t kLvtMasked = 1u << 16, kLvtDeliveryMode = 0x700;
  absl::StatusOr<uint32_t> lvt = vcpu.ReadLapicRegister(hv::kLapicLvtPerfCounter);
  if (!lvt.ok()) return lvt.status();
  if ((*lvt & kLvtMasked) || (*lvt & kLvtDeliveryMode) != 0) return absl::OkStatus();
  return vm_->SignalMsi(hv::FixedMsi(vcpu.id(), static_cast<uint8_t>(*lvt & 0xff)));
}

absl::Status VmRunner::AttachDevices() {
  auto console = ConsoleLog::Open(ConsolePath(config_));
  if (!console.ok()) return console.status();
  console_ = *std::move(console);
  serial_ = std::make_unique<Serial16550>(console_.get());
  power_port_ = std::make_unique<PowerPort>([this](uint8_t) {
    console_->Flush();
    std::lock_guard lock(mu_);
    powered_off_ = true;
    FinishLocked(RunState::kStopped, "", "");
  });
  probe_mailbox_ = std::make_unique<ProbeMailbox>(*memory_, *vm_);
  for (absl::Status s : {bus_.Insert(BusSpace::kPio, VMD_PORT_COM1, Serial16550::kPorts, serial_.get()),
                         bus_.Insert(BusSpace::kPio, VMD_PORT_POWER, 1, power_port_.get()),
                         bus_.Insert(BusSpace::kPio, VMD_PORT_PROBE_DONE, 1, probe_mailbox_.get()),
                         bus_.Insert(BusSpace::kPio, VMD_PORT_BENCH, bench::BenchDevice::kPorts, &bench_device_)}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status VmRunner::Boot() {
  auto memory = hv::GuestMemory::Create(hv::StandardMemoryLayout(config_.memory_mib() << 20));
  if (!memory.ok()) return memory.status();
  memory_ = *std::move(memory);
  if (absl::Status s = CreateVcpus(); !s.ok()) return s;
  absl::StatusOr<uint64_t> tsc_khz = vcpus_[0]->TscKhz();
  if (!tsc_khz.ok()) return tsc_khz.status();
  *memory_->At<vmd_boot_info>(VMD_BOOT_INFO_GPA) = {
      .magic = VMD_BOOT_INFO_MAGIC,
      .workload = WorkloadId(config_.workload()),
      .vcpus = config_.vcpus(),
      .heartbeat_ms = config_.heartbeat_ms(),
      .memory_bytes = memory_->size(),
      .tsc_khz = *tsc_khz,
  };
  if (absl::Status s = guest::LoadFirmware(*memory_, config_.vcpus()); !s.ok()) return s;
  for (auto& vcpu : vcpus_) {
    if (absl::Status s = vcpu->SetBootEntry(guest::FirmwareEntry(vcpu->id())); !s.ok()) return s;
  }
  if (absl::Status s = AttachDevices(); !s.ok()) return s;
  if (config_.has_msr_policy()) {
    if (auto applied = msr_router_.SetPolicy(config_.msr_policy()); !applied.ok()) return applied.status();
  }
  return absl::OkStatus();
}

absl::Status VmRunner::Restore() {
  const std::string& dir = config_.restore().snapshot_dir();
  absl::StatusOr<v1::VmSnapshot> snapshot = snapshot::ReadState(dir);
  if (!snapshot.ok()) return snapshot.status();
  // A restore builds the VM the snapshot was taken of: the config must agree.
  const vmd::v1::Backend backend = BackendOf(hypervisor_->kind());
  if (snapshot->backend() != backend || snapshot->vcpus() != config_.vcpus() ||
      snapshot->workload() != config_.workload() ||
      (backend == vmd::v1::BACKEND_SIM && snapshot->sim_profile() != config_.sim_profile())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "restore: the snapshot is of a ", vmd::v1::Backend_Name(snapshot->backend()), " VM with ", snapshot->vcpus(),
        " vCPU(s), workload ", snapshot->workload(), ", sim profile '", snapshot->sim_profile(), "'; the config asks for ",
        vmd::v1::Backend_Name(backend), ", ", config_.vcpus(), " vCPU(s), workload ", config_.workload(),
        ", sim profile '", config_.sim_profile(), "'"));
  }
  // The vPMU's registers are of the shape it was granted: the same again.
  if (!google::protobuf::util::MessageDifferencer::Equals(snapshot->pmu(), config_.pmu())) {
    return absl::FailedPreconditionError(
        "restore: the snapshot's guest PMU differs from the config's (a VM is restored with the PMU it was saved with)");
  }
  auto memory = hv::GuestMemory::FromFile(snapshot::MemoryPath(dir), snapshot::MemoryLayout(*snapshot),
                                          MappingOf(config_.restore().memory_mapping()));
  if (!memory.ok()) return memory.status();
  memory_ = *std::move(memory);
  if (absl::Status s = CreateVcpus(); !s.ok()) return s;

  absl::StatusOr<hv::VmState> vm_state = snapshot::DecodeVmState(snapshot->vm());
  if (!vm_state.ok()) return vm_state.status();
  if (absl::Status s = vm_->RestoreState(*vm_state); !s.ok()) return s;
  if (snapshot->vcpus_state_size() != static_cast<int>(vcpus_.size())) {
    return absl::InvalidArgumentError(
        absl::StrCat("restore: the snapshot holds ", snapshot->vcpus_state_size(), " vCPU states for ", vcpus_.size()));
  }
  for (auto& vcpu : vcpus_) {
    absl::StatusOr<hv::VcpuState> state = snapshot::DecodeVcpuState(snapshot->vcpus_state(vcpu->id()));
    if (!state.ok()) return state.status();
    if (absl::Status s = vcpu->RestoreState(*state); !s.ok()) return s;
  }
  if (absl::Status s = AttachDevices(); !s.ok()) return s;
  if (absl::Status s = bus_.RestoreAll({snapshot->devices().begin(), snapshot->devices().end()}); !s.ok()) return s;
  // The router's filter is the one the VM runs under from now on (the
  // config's policy, with the engine's claims).
  auto applied = msr_router_.SetPolicy(config_.msr_policy());
  if (!applied.ok()) return applied.status();
  msr_router_.SetStoredValues({snapshot->msr_handler_values().begin(), snapshot->msr_handler_values().end()});
  if (vpmu_) {
    for (int i = 0; i < snapshot->vpmu_size(); ++i) {
      const auto& msrs = snapshot->vpmu(i).msrs();
      vpmu_->Restore(static_cast<uint32_t>(i), {msrs.begin(), msrs.end()});
    }
  }
  return absl::OkStatus();
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

void VmRunner::SetStateLocked(RunState state) {
  state_ = state;
  if (probe_mailbox_) probe_mailbox_->SetRunning(state == RunState::kRunning, RunStateName(state));
}

absl::Status VmRunner::Start() {
  std::lock_guard lock(mu_);
  if (started_) return absl::FailedPreconditionError("VM already started");
  started_ = true;
  pause_requested_ = config_.start_paused();
  SetStateLocked(config_.start_paused() ? RunState::kPaused : RunState::kRunning);
  live_threads_ = static_cast<uint32_t>(vcpus_.size());
  if (vpmu_) vpmu_->WatchOverflows(std::chrono::milliseconds(1), [this](uint32_t v) { vcpus_[v]->Kick(); });
  for (auto& vcpu : vcpus_) threads_.emplace_back(&VmRunner::VcpuLoop, this, vcpu.get());
  return absl::OkStatus();
}

void VmRunner::KickAll() {
  for (auto& vcpu : vcpus_) vcpu->Kick();
}

void VmRunner::FinishLocked(RunState state, std::string reason, std::string dump) {
  if (state_ == RunState::kStopped || state_ == RunState::kCrashed) return;
  SetStateLocked(state);
  crash_reason_ = std::move(reason);
  register_dump_ = std::move(dump);
  KickAll();
  cv_.notify_all();
}

void VmRunner::VcpuLoop(hv::Vcpu* vcpu) {
  auto ended = [&] { return state_ == RunState::kStopped || state_ == RunState::kCrashed; };
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (pause_requested_ && !ended()) {
        ++parked_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !pause_requested_ || ended(); });
        --parked_;
      }
      if (ended()) break;
    }
    if (vpmu_) vpmu_->clock().Enter(vcpu->id());
    absl::StatusOr<hv::VcpuExit> exit = vcpu->Run();
    if (vpmu_) vpmu_->clock().Leave(vcpu->id());
    std::optional<std::string> crash =
        exit.ok() ? exits_.Dispatch(*vcpu, *exit) : absl::StrCat("vcpu ", vcpu->id(), ": ", exit.status().message());
    // After the exit's own answer: an MSR write it made may have overflowed.
    if (!crash && vpmu_ && vpmu_->TakePmi(vcpu->id())) {
      if (absl::Status s = DeliverPmi(*vcpu); !s.ok()) crash = absl::StrCat("vcpu ", vcpu->id(), ": PMI: ", s.message());
    }
    if (crash) {
      std::string dump = vcpu->DumpRegisters();
      std::lock_guard lock(mu_);
      FinishLocked(RunState::kCrashed, *std::move(crash), std::move(dump));
      break;
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
  SetStateLocked(RunState::kPaused);
  return absl::OkStatus();
}

absl::Status VmRunner::Resume() {
  std::lock_guard control(control_mu_);
  std::lock_guard lock(mu_);
  if (state_ != RunState::kPaused || !started_) {
    return absl::FailedPreconditionError(absl::StrCat("cannot resume: VM is ", RunStateName(state_)));
  }
  pause_requested_ = false;
  SetStateLocked(RunState::kRunning);
  cv_.notify_all();
  return absl::OkStatus();
}

absl::StatusOr<bool> VmRunner::Stop(std::chrono::milliseconds timeout, bool force) {
  std::unique_lock lock(mu_);
  if (state_ == RunState::kStopped || state_ == RunState::kCrashed) return powered_off_;
  if (!force && state_ == RunState::kRunning) {
    // The request is repeated until the guest acts on it: KVM drops a fixed
    // interrupt sent to an APIC the guest has not enabled yet (lapic.c,
    // __apic_accept_irq), so one sent while the firmware boots is lost.
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const auto gone = [&] { return state_ == RunState::kStopped || state_ == RunState::kCrashed; };
    while (!gone() && std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      absl::Status s = vm_->SignalMsi(hv::FixedMsi(0, VMD_VECTOR_SHUTDOWN));
      lock.lock();
      if (!s.ok()) break;
      cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kShutdownRepeat), gone);
    }
  }
  FinishLocked(RunState::kStopped, "", "");
  cv_.wait(lock, [&] { return live_threads_ == 0; });
  return powered_off_;
}

void VmRunner::WaitUntilDone() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] {
    return started_ && (state_ == RunState::kStopped || state_ == RunState::kCrashed) && live_threads_ == 0;
  });
}

RunnerStatus VmRunner::Status() {
  std::lock_guard lock(mu_);
  std::atomic_ref<uint64_t> counter(memory_->At<vmd_guest_status>(VMD_GUEST_STATUS_GPA)->counter);
  return {state_,
          hypervisor_->kind(),
          hypervisor_->kind() != hv::BackendKind::kSim ? ""
          : config_.sim_profile().empty()              ? std::string(cpu::DefaultHostProfile().name)
                                                       : config_.sim_profile(),
          counter.load(std::memory_order_relaxed),
          crash_reason_,
          register_dump_};
}

absl::Status VmRunner::WithVcpusParked(const std::function<absl::Status()>& fn) {
  std::lock_guard control(control_mu_);
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

absl::StatusOr<v1::SaveStateResponse> VmRunner::SaveState(const std::string& dir) {
  std::lock_guard control(control_mu_);
  {
    std::unique_lock lock(mu_);
    if (state_ != RunState::kPaused) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot save the state: VM is ", RunStateName(state_), "; pause it first"));
    }
    // A VM started paused may have vCPU threads still on their way to park.
    cv_.wait(lock, [&] { return parked_ == live_threads_; });
  }
  if (absl::Status s = snapshot::CheckSnapshotDir(dir); !s.ok()) return s;
  if (absl::Status s = bus_.SleepAll(); !s.ok()) return s;
  absl::StatusOr<v1::SaveStateResponse> saved = [&]() -> absl::StatusOr<v1::SaveStateResponse> {
    v1::VmSnapshot snapshot;
    snapshot.set_format(v1::SNAPSHOT_FORMAT_1);
    snapshot.set_backend(BackendOf(hypervisor_->kind()));
    if (hypervisor_->kind() == hv::BackendKind::kSim) snapshot.set_sim_profile(config_.sim_profile());
    snapshot.set_vcpus(config_.vcpus());
    snapshot.set_workload(config_.workload());
    for (const hv::GuestMemory::Region& r : memory_->regions()) {
      v1::MemoryRegion* region = snapshot.add_memory();
      region->set_gpa(r.gpa);
      region->set_size(r.size);
    }
    absl::StatusOr<hv::VmState> vm_state = vm_->SaveState();
    if (!vm_state.ok()) return vm_state.status();
    *snapshot.mutable_vm() = snapshot::EncodeVmState(*vm_state);
    for (auto& vcpu : vcpus_) {
      absl::StatusOr<hv::VcpuState> state = vcpu->SaveState();
      if (!state.ok()) return state.status();
      *snapshot.add_vcpus_state() = snapshot::EncodeVcpuState(*state);
    }
    absl::StatusOr<std::map<std::string, std::string>> devices = bus_.SaveAll();
    if (!devices.ok()) return devices.status();
    snapshot.mutable_devices()->insert(devices->begin(), devices->end());
    for (const auto& [index, value] : msr_router_.StoredValues()) (*snapshot.mutable_msr_handler_values())[index] = value;
    if (config_.has_pmu()) *snapshot.mutable_pmu() = config_.pmu();
    if (vpmu_) {
      for (auto& vcpu : vcpus_) {
        const std::map<uint32_t, uint64_t> msrs = vpmu_->Save(vcpu->id());
        snapshot.add_vpmu()->mutable_msrs()->insert(msrs.begin(), msrs.end());
      }
    }
    console_->Flush();
    absl::StatusOr<uint64_t> written = snapshot::WriteMemory(dir, *memory_);
    if (!written.ok()) return written.status();
    if (absl::Status s = snapshot::WriteState(dir, snapshot); !s.ok()) return s;
    v1::SaveStateResponse response;
    response.set_state_path(snapshot::StatePath(dir));
    response.set_memory_path(snapshot::MemoryPath(dir));
    response.set_memory_bytes(memory_->size());
    response.set_memory_bytes_written(*written);
    return response;
  }();
  absl::Status woken = bus_.WakeAll();
  if (!saved.ok()) return saved.status();
  if (!woken.ok()) return woken;
  return saved;
}

absl::StatusOr<vmd::v1::RunProbeResponse> VmRunner::RunProbe(const vmd::v1::RunProbeRequest& request) {
  if (config_.workload() != "probe") {
    return absl::FailedPreconditionError(
        absl::StrCat("probe programs need workload probe; this VM runs ", config_.workload()));
  }
  return probe_mailbox_->RunProbe(request);
}

absl::StatusOr<std::vector<vmd_probe_op>> VmRunner::RunMailboxOps(std::span<const vmd_probe_op> ops,
                                                                  std::chrono::milliseconds timeout) {
  if (config_.workload() != "probe") {
    return absl::FailedPreconditionError(
        absl::StrCat("mailbox programs need workload probe; this VM runs ", config_.workload()));
  }
  return probe_mailbox_->Run(ops, timeout);
}

}  // namespace vmd::engine

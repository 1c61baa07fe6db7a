#include "backend/hypervisor/sim/sim_hypervisor.h"

#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/sim/sim_guest.h"
#include "backend/hypervisor/sim/sim_profiles.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv {
namespace {

class SimVm;

class SimVcpu final : public Vcpu {
 public:
  SimVcpu(SimVm* vm, uint32_t id, const vmd_boot_info& boot, const SimProfile& profile, GuestMemory& memory,
          const SimGuest::MsrFilterSlot& msr_filter)
      : vm_(vm), id_(id), guest_(id, boot, profile, memory, msr_filter) {}
  ~SimVcpu() override;

  uint32_t id() const override { return id_; }

  absl::StatusOr<VcpuExit> Run() override {
    std::unique_lock lock(mu_);
    // Guest time is measured only inside Run(): a parked vCPU makes no progress.
    std::optional<std::chrono::steady_clock::time_point> tick_deadline;
    auto woken = [this] { return kicked_ || !pending_irqs_.empty(); };
    for (;;) {
      if (kicked_) {
        kicked_ = false;
        return VcpuExit{.kind = ExitKind::kInterrupted};
      }
      while (!pending_irqs_.empty()) {
        guest_.OnInterrupt(pending_irqs_.front());
        pending_irqs_.pop_front();
      }
      SimGuest::Step step = guest_.Next();
      switch (step.kind) {
        case SimGuest::Step::Kind::kOut:
          std::memcpy(io_data_, &step.value, sizeof(step.value));  // little-endian, as OUT
          return VcpuExit{.kind = ExitKind::kIoOut, .port = step.port, .io_data = {io_data_, step.size}};
        case SimGuest::Step::Kind::kWaitInterrupt:
          cv_.wait(lock, woken);
          break;
        case SimGuest::Step::Kind::kWaitUntil:
          cv_.wait_until(lock, step.deadline, woken);
          break;
        case SimGuest::Step::Kind::kMsrExit:
          return VcpuExit{.kind = step.msr_write ? ExitKind::kMsrWrite : ExitKind::kMsrRead,
                          .msr_index = step.msr_index,
                          .msr_data = step.msr_data,
                          .msr_reason = step.msr_reason};
        case SimGuest::Step::Kind::kWaitTick:
          if (!tick_deadline) tick_deadline = std::chrono::steady_clock::now() + SimGuest::kTick;
          if (!cv_.wait_until(lock, *tick_deadline, woken)) {
            guest_.OnTick();
            *tick_deadline += SimGuest::kTick;
          }
          break;
      }
    }
  }

  // The model never reads ports; nothing to complete.
  void CompleteIoIn(std::span<const uint8_t>) override {}
  void CompleteMsr(uint64_t value, bool inject_gp) override {
    std::lock_guard lock(mu_);
    guest_.CompleteMsr(value, inject_gp);
  }

  void Kick() override {
    std::lock_guard lock(mu_);
    kicked_ = true;
    cv_.notify_all();
  }

  void Interrupt(uint8_t vector) {
    std::lock_guard lock(mu_);
    pending_irqs_.push_back(vector);
    cv_.notify_all();
  }

  std::string DumpRegisters() override {
    return absl::StrCat("sim vcpu ", id_, ": the sim backend models no register state");
  }

 private:
  SimVm* const vm_;
  const uint32_t id_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool kicked_ = false;
  std::deque<uint8_t> pending_irqs_;
  SimGuest guest_;
  uint8_t io_data_[4] = {};
};

class SimVm final : public Vm {
 public:
  SimVm(const VmConfig& config, const SimProfile& profile) : config_(config), profile_(profile) {}

  absl::Status SetGuestMemory(GuestMemory& memory) override {
    memory_ = &memory;
    return absl::OkStatus();
  }

  absl::Status LoadGuest(GuestMemory& memory) override {
    // The model needs no image: it reads the same boot info the firmware does.
    const auto* boot = memory.At<vmd_boot_info>(VMD_BOOT_INFO_GPA);
    if (boot == nullptr || boot->magic != VMD_BOOT_INFO_MAGIC) {
      return absl::FailedPreconditionError("sim: no valid boot info in guest memory");
    }
    if (&memory != memory_) return absl::FailedPreconditionError("sim: LoadGuest needs the VM's guest memory");
    boot_ = *boot;
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) override {
    if (boot_.magic != VMD_BOOT_INFO_MAGIC) return absl::FailedPreconditionError("sim: LoadGuest must come first");
    if (id >= config_.vcpus) {
      return absl::InvalidArgumentError(absl::StrCat("sim: vcpu id ", id, " >= vcpus ", config_.vcpus));
    }
    std::lock_guard lock(mu_);
    if (vcpus_.contains(id)) return absl::AlreadyExistsError(absl::StrCat("sim: vcpu ", id, " exists"));
    auto vcpu = std::make_unique<SimVcpu>(this, id, boot_, profile_, *memory_, msr_filter_);
    vcpus_[id] = vcpu.get();
    return vcpu;
  }

  absl::Status SignalMsi(uint32_t dest_apic_id, uint8_t vector) override {
    std::lock_guard lock(mu_);
    // Like the APIC bus: an interrupt to an absent APIC id is dropped.
    if (auto it = vcpus_.find(dest_apic_id); it != vcpus_.end()) it->second->Interrupt(vector);
    return absl::OkStatus();
  }

  absl::Status SetMsrFilter(const msr::MsrFilter& filter) override {
    // The kernel's checks, so the sim refuses what KVM would.
    if (absl::Status s = msr::ValidateMsrFilter(filter); !s.ok()) return s;
    msr::MsrFilter installed = filter;
    installed.exit_reasons |= msr::kMsrExitReasonFilter;  // as the kvm backend enables
    msr_filter_.Set(std::move(installed));
    return absl::OkStatus();
  }

  void Unregister(uint32_t id) {
    std::lock_guard lock(mu_);
    vcpus_.erase(id);
  }

 private:
  const VmConfig config_;
  const SimProfile& profile_;
  GuestMemory* memory_ = nullptr;
  vmd_boot_info boot_{};
  SimGuest::MsrFilterSlot msr_filter_;
  std::mutex mu_;
  std::map<uint32_t, SimVcpu*> vcpus_;
};

SimVcpu::~SimVcpu() { vm_->Unregister(id_); }

class SimHypervisor final : public Hypervisor {
 public:
  explicit SimHypervisor(const SimProfile& profile) : profile_(profile) {}
  BackendKind kind() const override { return BackendKind::kSim; }
  uint32_t MaxVcpus() const override { return profile_.max_vcpus; }

  absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) override {
    if (config.vcpus == 0 || config.vcpus > profile_.max_vcpus) {
      return absl::InvalidArgumentError(absl::StrCat("sim: vcpus must be 1..", profile_.max_vcpus));
    }
    return std::make_unique<SimVm>(config, profile_);
  }

 private:
  const SimProfile& profile_;
};

}  // namespace

BackendAvailability ProbeSim() {
  return {BackendKind::kSim, true, "", DefaultSimProfile().max_vcpus};
}

absl::StatusOr<std::unique_ptr<Hypervisor>> OpenSim(const std::string& profile) {
  const SimProfile* p = profile.empty() ? &DefaultSimProfile() : FindSimProfile(profile);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("sim: no host profile named '", profile, "'"));
  return std::make_unique<SimHypervisor>(*p);
}

}  // namespace vmd::hv

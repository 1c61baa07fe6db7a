#include "backend/hypervisor/sim/sim_vcpu.h"

#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/sim/sim_vm.h"

namespace vmd::hv {
namespace {

constexpr size_t kLapicIrr = 0x200;

}  // namespace

SimVcpu::SimVcpu(SimVm& vm, uint32_t id, const cpu::HostProfile& profile, cpu::CpuidTable cpuid,
                 GuestMemory& memory)
    : vm_(vm), id_(id), profile_(profile), cpuid_(std::move(cpuid)), memory_(memory) {}

SimVcpu::~SimVcpu() { vm_.Unregister(id_); }

absl::Status SimVcpu::MakeGuest() {
  const auto* boot = memory_.At<vmd_boot_info>(VMD_BOOT_INFO_GPA);
  if (boot == nullptr || boot->magic != VMD_BOOT_INFO_MAGIC) {
    return absl::FailedPreconditionError("sim: no valid boot info in guest memory");
  }
  std::lock_guard lock(mu_);
  guest_ = std::make_unique<SimGuest>(id_, profile_, cpuid_, memory_, vm_);
  return absl::OkStatus();
}

absl::Status SimVcpu::SetBootEntry(const BootEntry& entry) {
  if (absl::Status s = MakeGuest(); !s.ok()) return s;
  std::lock_guard lock(mu_);
  guest_->mutable_cpu().SetBootCr4(entry.sregs.cr4);
  return absl::OkStatus();
}

absl::StatusOr<VcpuExit> SimVcpu::Run() {
  std::unique_lock lock(mu_);
  if (guest_ == nullptr) return absl::FailedPreconditionError("sim: the vCPU has neither a boot entry nor a state");
  // Guest time is measured only inside Run(): a parked vCPU makes no progress.
  std::optional<std::chrono::steady_clock::time_point> tick_deadline;
  auto woken = [this] { return kicked_ || !pending_irqs_.empty(); };
  for (;;) {
    if (kicked_) {
      kicked_ = false;
      return VcpuExit{.kind = ExitKind::kInterrupted};
    }
    while (!pending_irqs_.empty()) {
      guest_->OnInterrupt(pending_irqs_.front());
      pending_irqs_.pop_front();
    }
    SimGuest::Step step = guest_->Next();
    switch (step.kind) {
      case SimGuest::Step::Kind::kOut:
        if (vm_.MatchIoeventfd(IoEventfd::Space::kPio, step.port, step.size, step.value)) break;
        std::memcpy(data_, &step.value, sizeof(data_));  // little-endian, as OUT
        return VcpuExit{.kind = ExitKind::kIoOut, .port = step.port, .data = {data_, step.size}};
      case SimGuest::Step::Kind::kMmioWrite:
        if (vm_.MatchIoeventfd(IoEventfd::Space::kMmio, step.address, step.size, step.value)) break;
        std::memcpy(data_, &step.value, sizeof(data_));
        return VcpuExit{.kind = ExitKind::kMmioWrite, .address = step.address, .data = {data_, step.size}};
      case SimGuest::Step::Kind::kMmioRead:
        std::memset(data_, 0, sizeof(data_));
        return VcpuExit{.kind = ExitKind::kMmioRead, .address = step.address, .data = {data_, step.size}};
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
          guest_->OnTick();
          *tick_deadline += SimGuest::kTick;
        }
        break;
    }
  }
}

void SimVcpu::CompleteMmioRead(std::span<const uint8_t> data) {
  uint64_t value = 0;
  std::memcpy(&value, data.data(), std::min(data.size(), sizeof(value)));
  std::lock_guard lock(mu_);
  if (guest_ != nullptr) guest_->CompleteMmioRead(value);
}

void SimVcpu::CompleteMsr(uint64_t value, bool inject_gp) {
  std::lock_guard lock(mu_);
  if (guest_ != nullptr) guest_->CompleteMsr(value, inject_gp);
}

void SimVcpu::Kick() {
  std::lock_guard lock(mu_);
  kicked_ = true;
  cv_.notify_all();
}

void SimVcpu::Interrupt(uint8_t vector) {
  std::lock_guard lock(mu_);
  pending_irqs_.push_back(vector);
  cv_.notify_all();
}

absl::StatusOr<uint32_t> SimVcpu::ReadLapicRegister(uint32_t offset) {
  std::lock_guard lock(mu_);
  if (guest_ == nullptr) return absl::FailedPreconditionError("sim: the vCPU has not booted");
  return guest_->cpu().ReadLapic(offset);
}

absl::StatusOr<VcpuState> SimVcpu::SaveState() {
  std::lock_guard lock(mu_);
  if (guest_ == nullptr) return absl::FailedPreconditionError("sim: the vCPU has not booted");
  VcpuState state;
  state.id = id_;
  state.cpuid = cpuid_;
  state.tsc_khz = profile_.tsc_khz;
  state.mp_state = MpState::kRunnable;
  guest_->SaveState(state);
  // Interrupts delivered but not yet taken by the model are requested in
  // the LAPIC's IRR (eight 32-bit registers from offset 0x200), as on KVM.
  for (uint8_t vector : pending_irqs_) state.lapic.registers[kLapicIrr + (vector / 32) * 0x10 + (vector % 32) / 8] |=
      static_cast<uint8_t>(1u << (vector % 8));
  return state;
}

absl::Status SimVcpu::RestoreState(const VcpuState& state) {
  if (state.id != id_) {
    return absl::InvalidArgumentError(absl::StrCat("sim: the state of vCPU ", state.id, " given to vCPU ", id_));
  }
  if (state.tsc_khz != profile_.tsc_khz) {
    return absl::FailedPreconditionError(absl::StrCat("sim: the saved guest TSC runs at ", state.tsc_khz,
                                                      " kHz, this profile's at ", profile_.tsc_khz, " kHz"));
  }
  if (absl::Status s = MakeGuest(); !s.ok()) return s;
  std::lock_guard lock(mu_);
  if (absl::Status s = guest_->RestoreState(state); !s.ok()) {
    guest_.reset();
    return s;
  }
  pending_irqs_.clear();
  for (int vector = 0; vector < 256; ++vector) {
    if (state.lapic.registers[kLapicIrr + (vector / 32) * 0x10 + (vector % 32) / 8] & (1u << (vector % 8))) {
      pending_irqs_.push_back(static_cast<uint8_t>(vector));
    }
  }
  return absl::OkStatus();
}

std::string SimVcpu::DumpRegisters() {
  return absl::StrCat("sim vcpu ", id_, ": the sim backend models no register state");
}

}  // namespace vmd::hv

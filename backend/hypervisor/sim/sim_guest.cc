#include "backend/hypervisor/sim/sim_guest.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/guest/firmware_loader.h"
#include "nlohmann/json.hpp"

namespace vmd::hv {
namespace {

const char* WorkloadName(uint32_t workload) {
  switch (workload) {
    case VMD_WORKLOAD_IDLE: return "idle";
    case VMD_WORKLOAD_COUNTER: return "counter";
    case VMD_WORKLOAD_PROBE: return "probe";
  }
  return "unknown";
}

constexpr uint32_t kVectorGp = 13;
constexpr uint32_t kVectorPf = 14;

bool Canonical(uint64_t address) {
  const uint64_t top = address >> 47;
  return top == 0 || top == (~uint64_t{0} >> 47);
}

uint64_t RamEnd(const GuestMemory& memory) {
  const GuestMemory::Region& last = memory.regions().back();
  return last.gpa + last.size;
}

}  // namespace

SimGuest::SimGuest(uint32_t vcpu_id, const cpu::HostProfile& profile, cpu::CpuidTable cpuid, GuestMemory& memory,
                   SimPlatform& platform)
    : vcpu_id_(vcpu_id),
      boot_(*memory.At<vmd_boot_info>(VMD_BOOT_INFO_GPA)),
      memory_(memory),
      platform_(platform),
      status_(memory.At<vmd_guest_status>(VMD_GUEST_STATUS_GPA)),
      mailbox_(memory.At<vmd_probe_mailbox>(VMD_PROBE_MAILBOX_GPA)),
      cpu_(profile, vcpu_id, std::move(cpuid), [this](uint8_t v) { self_interrupts_.push_back(v); }) {}

void SimGuest::Print(const std::string& line) { console_.insert(console_.end(), line.begin(), line.end()); }

void SimGuest::TakeSelfInterrupts() {
  while (!self_interrupts_.empty()) {
    uint8_t v = self_interrupts_.front();
    self_interrupts_.pop_front();
    OnInterrupt(v);
  }
}

SimGuest::Step SimGuest::Next() {
  // Application processors park, as the firmware's do.
  if (vcpu_id_ != 0) return {Step::Kind::kWaitInterrupt};
  if (!booted_) {
    booted_ = true;
    Print(absl::StrCat("vmd firmware: ", WorkloadName(boot_.workload), " on ", boot_.vcpus, " vcpu(s)\n"));
  }
  if (!console_.empty()) {
    uint8_t byte = console_.front();
    console_.pop_front();
    return {Step::Kind::kOut, VMD_PORT_COM1, byte};
  }
  if (powered_off_) return {Step::Kind::kWaitInterrupt};
  if (power_off_requested_) {
    powered_off_ = true;
    return {Step::Kind::kOut, VMD_PORT_POWER, VMD_POWER_OFF_OK};
  }
  if (std::optional<Step> step = RunProbe()) return *step;
  if (boot_.workload == VMD_WORKLOAD_COUNTER) return {Step::Kind::kWaitTick};
  return {Step::Kind::kWaitInterrupt};
}

void SimGuest::OnTick() {
  if (boot_.workload != VMD_WORKLOAD_COUNTER || vcpu_id_ != 0 || powered_off_) return;
  std::atomic_ref<uint64_t> counter(status_->counter);
  uint64_t value = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  platform_.MarkDirty(VMD_GUEST_STATUS_GPA, sizeof(vmd_guest_status));
  uint64_t period = std::max<uint64_t>(1, boot_.heartbeat_ms / kTick.count());
  if (++ticks_since_heartbeat_ >= period) {
    ticks_since_heartbeat_ = 0;
    std::atomic_ref<uint64_t> heartbeats(status_->heartbeats);
    uint64_t n = heartbeats.fetch_add(1, std::memory_order_relaxed) + 1;
    Print(absl::StrCat("heartbeat ", n, " counter=", value, "\n"));
  }
}

void SimGuest::OnInterrupt(uint8_t vector) {
  ++interrupts_[vector];
  if (vcpu_id_ != 0) return;
  if (vector == VMD_VECTOR_SHUTDOWN && !power_off_requested_) {
    power_off_requested_ = true;
    Print(VMD_CONSOLE_POWER_OFF_LINE);
  }
  if (vector == VMD_VECTOR_PROBE && boot_.workload == VMD_WORKLOAD_PROBE && !probe_running_) {
    std::atomic_ref<uint32_t> sequence(mailbox_->sequence);
    uint32_t seq = sequence.load(std::memory_order_acquire);
    if (mailbox_->magic == VMD_PROBE_MAGIC && seq != mailbox_->done_sequence) {
      probe_running_ = true;
      probe_sequence_ = seq;
      probe_pc_ = 0;
      probe_base_ = interrupts_;
    }
  }
}

std::optional<SimGuest::Step> SimGuest::RunProbe() {
  if (!probe_running_) return std::nullopt;
  platform_.MarkDirty(VMD_PROBE_MAILBOX_GPA, sizeof(vmd_probe_mailbox));  // results land there
  const uint32_t nops = std::min<uint32_t>(mailbox_->nops, VMD_PROBE_MAX_OPS);
  for (; probe_pc_ < nops; ++probe_pc_) {
    TakeSelfInterrupts();
    vmd_probe_op& op = mailbox_->ops[probe_pc_];
    if (std::optional<Step> exit = MsrExit(op)) {
      msr_exit_pending_ = true;
      return exit;
    }
    if (op.kind != VMD_PROBE_WAIT_INTERRUPT) {
      if (std::optional<Step> exit = Execute(op)) {
        if (exit->kind == Step::Kind::kMmioRead) {
          mmio_read_pending_ = true;
        } else {
          ++probe_pc_;  // a store is done once it has exited
        }
        return exit;
      }
      continue;
    }
    const uint8_t vector = static_cast<uint8_t>(op.index);
    if (!waiting_) {
      waiting_ = true;
      wait_deadline_ = Clock::now() + std::chrono::microseconds(op.subleaf);
    }
    if (interrupts_[vector] > probe_base_[vector]) {
      op.status = VMD_PROBE_OK;
      op.out[0] = interrupts_[vector] - probe_base_[vector];
      probe_base_[vector] = interrupts_[vector];
    } else if (Clock::now() >= wait_deadline_) {
      op.status = VMD_PROBE_TIMEOUT;
    } else {
      return Step{.kind = Step::Kind::kWaitUntil, .deadline = wait_deadline_};
    }
    waiting_ = false;
  }
  probe_running_ = false;
  std::atomic_ref<uint32_t> done(mailbox_->done_sequence);
  done.store(probe_sequence_, std::memory_order_release);
  return Step{.kind = Step::Kind::kOut, .port = VMD_PORT_PROBE_DONE, .value = probe_sequence_, .size = 4};
}

std::optional<SimGuest::Step> SimGuest::MsrExit(const vmd_probe_op& op) const {
  if (op.kind != VMD_PROBE_RDMSR && op.kind != VMD_PROBE_WRMSR) return std::nullopt;
  std::shared_ptr<const msr::MsrFilter> filter = platform_.MsrFilter();
  if (filter == nullptr) return std::nullopt;
  const bool write = op.kind == VMD_PROBE_WRMSR;
  uint32_t reason = 0;
  if (!msr::KvmAllows(*filter, op.index, write)) {
    reason = msr::kMsrExitReasonFilter;
  } else if (!cpu_.KnowsMsr(op.index)) {
    reason = msr::kMsrExitReasonUnknown;
  }
  // A reason user space did not ask for ends in #GP in the kernel (Execute).
  if (reason == 0 || (filter->exit_reasons & reason) == 0) return std::nullopt;
  return Step{.kind = Step::Kind::kMsrExit,
              .msr_write = write,
              .msr_index = op.index,
              .msr_data = write ? op.arg : 0,
              .msr_reason = reason};
}

void SimGuest::CompleteMsr(uint64_t value, bool inject_gp) {
  if (!msr_exit_pending_) return;
  msr_exit_pending_ = false;
  vmd_probe_op& op = mailbox_->ops[probe_pc_];
  if (inject_gp) {
    op.status = VMD_PROBE_FAULT;
    op.vector = kVectorGp;
  } else {
    op.status = VMD_PROBE_OK;
    if (op.kind == VMD_PROBE_RDMSR) op.out[0] = value;
  }
  ++probe_pc_;
}

void SimGuest::CompleteMmioRead(uint64_t value) {
  if (!mmio_read_pending_) return;
  mmio_read_pending_ = false;
  vmd_probe_op& op = mailbox_->ops[probe_pc_];
  op.status = VMD_PROBE_OK;
  op.out[0] = value;
  ++probe_pc_;
}

std::optional<SimGuest::Step> SimGuest::MemoryAccessOutsideRam(vmd_probe_op& op, bool write) {
  const uint64_t gpa = op.arg;
  op.status = VMD_PROBE_FAULT;
  if (!Canonical(gpa)) {
    op.vector = kVectorGp;
    return std::nullopt;
  }
  if (gpa + op.index > guest::IdentityMappedBytes(RamEnd(memory_)) || gpa + op.index < gpa) {
    op.vector = kVectorPf;  // no page-table entry maps it
    return std::nullopt;
  }
  op.status = VMD_PROBE_OK;
  return Step{.kind = write ? Step::Kind::kMmioWrite : Step::Kind::kMmioRead,
              .value = write ? op.arg2 : 0,
              .size = static_cast<uint8_t>(op.index),
              .address = gpa};
}

std::optional<SimGuest::Step> SimGuest::Execute(vmd_probe_op& op) {
  auto fault = [&](uint32_t vector) {
    op.status = VMD_PROBE_FAULT;
    op.vector = vector;
  };
  op.status = VMD_PROBE_OK;
  if (op.kind == VMD_PROBE_RDMSR || op.kind == VMD_PROBE_WRMSR) {
    std::shared_ptr<const msr::MsrFilter> filter = platform_.MsrFilter();
    if (filter != nullptr && !msr::KvmAllows(*filter, op.index, op.kind == VMD_PROBE_WRMSR)) {
      fault(kVectorGp);  // denied, and user space takes no FILTER exits
      return std::nullopt;
    }
  }
  switch (op.kind) {
    case VMD_PROBE_RDMSR:
      if (std::optional<uint64_t> v = cpu_.ReadMsr(op.index)) {
        op.out[0] = *v;
      } else {
        fault(kVectorGp);
      }
      break;
    case VMD_PROBE_WRMSR:
      if (!cpu_.WriteMsr(op.index, op.arg)) fault(kVectorGp);
      break;
    case VMD_PROBE_CPUID: {
      cpu::CpuidEntry r = cpu_.Cpuid(op.index, op.subleaf);
      op.out[0] = r.eax;
      op.out[1] = r.ebx;
      op.out[2] = r.ecx;
      op.out[3] = r.edx;
      break;
    }
    case VMD_PROBE_RDTSC: op.out[0] = cpu_.Rdtsc(); break;
    case VMD_PROBE_WRITE_CR4:
      if (uint32_t v = cpu_.WriteCr4(op.arg); v != 0) {
        fault(v);
      } else {
        op.out[0] = cpu_.cr4();
      }
      break;
    case VMD_PROBE_XSETBV:
      if (uint32_t v = cpu_.Xsetbv(op.index, op.arg); v != 0) fault(v);
      break;
    case VMD_PROBE_READ_MEM: {
      std::span<uint8_t> bytes = memory_.Slice(op.arg, op.index);
      if (bytes.empty()) return MemoryAccessOutsideRam(op, /*write=*/false);
      uint64_t v = 0;
      std::memcpy(&v, bytes.data(), bytes.size());
      op.out[0] = v;
      break;
    }
    case VMD_PROBE_WRITE_MEM: {
      std::span<uint8_t> bytes = memory_.Slice(op.arg, op.index);
      if (bytes.empty()) return MemoryAccessOutsideRam(op, /*write=*/true);
      std::memcpy(bytes.data(), &op.arg2, bytes.size());
      platform_.MarkDirty(op.arg, op.index);
      break;
    }
    // The model's loop costs one TSC cycle per iteration.
    case VMD_PROBE_SPIN: op.out[0] = op.arg; break;
    default: fault(6); break;  // an unknown op is an invalid opcode to the firmware
  }
  return std::nullopt;
}

namespace {

// Non-zero entries of a per-vector count table, as {"vector": count}.
nlohmann::json Counts(const std::array<uint64_t, 256>& counts) {
  nlohmann::json j = nlohmann::json::object();
  for (size_t v = 0; v < counts.size(); ++v) {
    if (counts[v] != 0) j[std::to_string(v)] = counts[v];
  }
  return j;
}

void LoadCounts(const nlohmann::json& j, std::array<uint64_t, 256>& counts) {
  counts.fill(0);
  for (const auto& [vector, count] : j.items()) counts.at(std::stoul(vector)) = count.get<uint64_t>();
}

}  // namespace

void SimGuest::SaveState(VcpuState& state) const {
  cpu_.SaveState(state);
  const auto now = Clock::now();
  nlohmann::json j = {
      {"booted", booted_},
      {"power_off_requested", power_off_requested_},
      {"powered_off", powered_off_},
      {"ticks_since_heartbeat", ticks_since_heartbeat_},
      {"console", std::string(console_.begin(), console_.end())},
      {"self_interrupts", std::vector<uint8_t>(self_interrupts_.begin(), self_interrupts_.end())},
      {"interrupts", Counts(interrupts_)},
      {"probe_running", probe_running_},
      {"probe_sequence", probe_sequence_},
      {"probe_pc", probe_pc_},
      {"probe_base", Counts(probe_base_)},
      {"waiting", waiting_},
      // Time left, not a time point: the clock of the engine that restores
      // it is another one.
      {"wait_remaining_ns",
       waiting_ ? std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::nanoseconds>(wait_deadline_ - now).count())
                : 0},
      {"msr_exit_pending", msr_exit_pending_},
      {"mmio_read_pending", mmio_read_pending_},
  };
  state.sim_model = j.dump();
}

absl::Status SimGuest::RestoreState(const VcpuState& state) {
  if (state.sim_model.empty()) {
    return absl::InvalidArgumentError("sim: the vCPU state has no sim model (a kvm vCPU's state?)");
  }
  if (absl::Status s = cpu_.RestoreState(state); !s.ok()) return s;
  try {
    const nlohmann::json j = nlohmann::json::parse(state.sim_model);
    booted_ = j.at("booted").get<bool>();
    power_off_requested_ = j.at("power_off_requested").get<bool>();
    powered_off_ = j.at("powered_off").get<bool>();
    ticks_since_heartbeat_ = j.at("ticks_since_heartbeat").get<uint64_t>();
    const std::string console = j.at("console").get<std::string>();
    console_.assign(console.begin(), console.end());
    const std::vector<uint8_t> self = j.at("self_interrupts").get<std::vector<uint8_t>>();
    self_interrupts_.assign(self.begin(), self.end());
    LoadCounts(j.at("interrupts"), interrupts_);
    probe_running_ = j.at("probe_running").get<bool>();
    probe_sequence_ = j.at("probe_sequence").get<uint32_t>();
    probe_pc_ = j.at("probe_pc").get<uint32_t>();
    LoadCounts(j.at("probe_base"), probe_base_);
    waiting_ = j.at("waiting").get<bool>();
    wait_deadline_ = Clock::now() + std::chrono::nanoseconds(j.at("wait_remaining_ns").get<int64_t>());
    msr_exit_pending_ = j.at("msr_exit_pending").get<bool>();
    mmio_read_pending_ = j.at("mmio_read_pending").get<bool>();
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("sim: the vCPU's sim model state is not valid: ", e.what()));
  }
  return absl::OkStatus();
}

}  // namespace vmd::hv

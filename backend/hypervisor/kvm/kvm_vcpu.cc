#include "backend/hypervisor/kvm/kvm_vcpu.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/hypervisor/kvm/kvm_vcpu_state.h"
#include "backend/hypervisor/register_dump.h"

namespace vmd::hv::kvm {
namespace {

void KickSignalHandler(int) {}

// Installs the no-op handler once per process. No SA_RESTART: the signal must
// interrupt KVM_RUN.
void InstallKickSignalHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = KickSignalHandler;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    sigaction(kKickSignal, &action, nullptr);
  });
}

void UnblockKickSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, kKickSignal);
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

const char* InternalErrorName(uint32_t suberror) {
  switch (suberror) {
    case KVM_INTERNAL_ERROR_EMULATION: return "emulation failure";
    case KVM_INTERNAL_ERROR_SIMUL_EX: return "simultaneous exceptions";
    case KVM_INTERNAL_ERROR_DELIVERY_EV: return "exit while delivering an event";
    case KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON: return "unexpected hardware exit reason";
  }
  return "unknown suberror";
}

const char* SystemEventName(uint32_t type) {
  switch (type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN: return "shutdown";
    case KVM_SYSTEM_EVENT_RESET: return "reset";
    case KVM_SYSTEM_EVENT_CRASH: return "crash";
  }
  return "other";
}

VcpuExit Failure(ExitKind kind, std::string reason) {
  VcpuExit exit;
  exit.kind = kind;
  exit.reason = std::move(reason);
  return exit;
}

}  // namespace

absl::StatusOr<std::unique_ptr<KvmVcpu>> KvmVcpu::Create(uint32_t id, Fd fd, size_t run_size,
                                                         StateContext context) {
  void* run = mmap(nullptr, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (run == MAP_FAILED) {
    return absl::ErrnoToStatus(errno, absl::StrCat("mmap of vCPU ", id, "'s kvm_run"));
  }
  InstallKickSignalHandler();
  return std::unique_ptr<KvmVcpu>(
      new KvmVcpu(id, std::move(fd), static_cast<kvm_run*>(run), run_size, std::move(context)));
}

KvmVcpu::~KvmVcpu() { munmap(run_, run_size_); }

absl::StatusOr<VcpuExit> KvmVcpu::Run() {
  // Remember the calling thread for Kick's signal (again if the engine moved
  // the vCPU to another thread), and make sure the signal can reach it.
  if (!thread_known_ || !pthread_equal(thread_.load(), pthread_self())) {
    thread_known_ = true;
    UnblockKickSignal();
    thread_.store(pthread_self());
  }
  for (;;) {
    in_run_.store(true);
    if (kick_pending_.exchange(false)) {
      in_run_.store(false);
      immediate_exit().store(0);
      last_exit_reason_ = KVM_EXIT_INTR;
      VcpuExit exit;
      exit.kind = ExitKind::kInterrupted;
      return exit;
    }
    int result = ioctl(fd_.get(), KVM_RUN, 0);
    int err = errno;
    in_run_.store(false);
    immediate_exit().store(0);
    if (result < 0) {
      // A kick (or some other signal) took the vCPU out: loop to consume the
      // kick, or re-enter if it was not ours.
      if (err == EINTR || err == EAGAIN) continue;
      last_exit_reason_ = KVM_EXIT_UNKNOWN;
      return IoctlError(absl::StrCat("KVM_RUN on vCPU ", id_), err);
    }
    last_exit_reason_ = run_->exit_reason;
    if (std::optional<VcpuExit> exit = MapExit()) return *std::move(exit);
  }
}

std::optional<VcpuExit> KvmVcpu::MapExit() {
  switch (run_->exit_reason) {
    case KVM_EXIT_IO: {
      VcpuExit exit;
      exit.kind = run_->io.direction == KVM_EXIT_IO_IN ? ExitKind::kIoIn : ExitKind::kIoOut;
      exit.port = run_->io.port;
      exit.data = std::span<uint8_t>(reinterpret_cast<uint8_t*>(run_) + run_->io.data_offset,
                                        size_t{run_->io.size} * run_->io.count);
      return exit;
    }
    case KVM_EXIT_X86_RDMSR:
    case KVM_EXIT_X86_WRMSR: {
      VcpuExit exit;
      bool read = run_->exit_reason == KVM_EXIT_X86_RDMSR;
      exit.kind = read ? ExitKind::kMsrRead : ExitKind::kMsrWrite;
      exit.msr_index = run_->msr.index;
      exit.msr_data = read ? 0 : run_->msr.data;
      exit.msr_reason = run_->msr.reason;
      run_->msr.error = 0;
      return exit;
    }
    case KVM_EXIT_INTR:
    case KVM_EXIT_IRQ_WINDOW_OPEN:
    case KVM_EXIT_X86_BUS_LOCK:
      return std::nullopt;
    case KVM_EXIT_SHUTDOWN:
      return Failure(ExitKind::kShutdown, "triple fault / shutdown (KVM_EXIT_SHUTDOWN)");
    case KVM_EXIT_SYSTEM_EVENT:
      return Failure(ExitKind::kShutdown,
                     absl::StrCat("system event: ", SystemEventName(run_->system_event.type),
                                  " (KVM_EXIT_SYSTEM_EVENT type ", run_->system_event.type, ")"));
    case KVM_EXIT_FAIL_ENTRY:
      return Failure(
          ExitKind::kInternalError,
          absl::StrFormat("VM entry failed (KVM_EXIT_FAIL_ENTRY): "
                          "hardware_entry_failure_reason=0x%x on host cpu %u",
                          run_->fail_entry.hardware_entry_failure_reason, run_->fail_entry.cpu));
    case KVM_EXIT_INTERNAL_ERROR: {
      std::string reason = absl::StrFormat(
          "KVM internal error (KVM_EXIT_INTERNAL_ERROR): suberror %u (%s)",
          run_->internal.suberror, InternalErrorName(run_->internal.suberror));
      uint32_t ndata = std::min<uint32_t>(run_->internal.ndata, 16);
      if (ndata > 0) {
        absl::StrAppend(&reason, ", data:");
        for (uint32_t i = 0; i < ndata; ++i) {
          absl::StrAppendFormat(&reason, " 0x%x", run_->internal.data[i]);
        }
      }
      return Failure(ExitKind::kInternalError, std::move(reason));
    }
    case KVM_EXIT_HLT:
      return Failure(ExitKind::kInternalError,
                     "unexpected KVM_EXIT_HLT (the in-kernel irqchip handles HLT)");
    case KVM_EXIT_MMIO: {
      VcpuExit exit;
      exit.kind = run_->mmio.is_write ? ExitKind::kMmioWrite : ExitKind::kMmioRead;
      exit.address = run_->mmio.phys_addr;
      exit.data = std::span<uint8_t>(run_->mmio.data, std::min<uint32_t>(run_->mmio.len, sizeof(run_->mmio.data)));
      return exit;
    }
    case KVM_EXIT_UNKNOWN:
      return Failure(ExitKind::kInternalError,
                     absl::StrFormat("unknown exit (KVM_EXIT_UNKNOWN): hardware_exit_reason=0x%x",
                                     run_->hw.hardware_exit_reason));
  }
  return Failure(ExitKind::kInternalError,
                 absl::StrCat("unexpected KVM exit reason ", run_->exit_reason));
}

void KvmVcpu::CompleteIoIn(std::span<const uint8_t> data) {
  if (last_exit_reason_ != KVM_EXIT_IO || run_->io.direction != KVM_EXIT_IO_IN) return;
  uint8_t* area = reinterpret_cast<uint8_t*>(run_) + run_->io.data_offset;
  const size_t size = size_t{run_->io.size} * run_->io.count;
  const size_t n = std::min(size, data.size());
  // `data` may be the exit's own data (filled in place): memmove, and zero
  // only what it does not cover.
  std::memmove(area, data.data(), n);
  std::memset(area + n, 0, size - n);
}

void KvmVcpu::CompleteMmioRead(std::span<const uint8_t> data) {
  if (last_exit_reason_ != KVM_EXIT_MMIO || run_->mmio.is_write) return;
  const size_t size = std::min<size_t>(run_->mmio.len, sizeof(run_->mmio.data));
  const size_t n = std::min(size, data.size());
  std::memmove(run_->mmio.data, data.data(), n);
  std::memset(run_->mmio.data + n, 0, size - n);
}

void KvmVcpu::CompleteMsr(uint64_t value, bool inject_gp) {
  if (last_exit_reason_ == KVM_EXIT_X86_RDMSR) {
    run_->msr.data = inject_gp ? 0 : value;
  } else if (last_exit_reason_ != KVM_EXIT_X86_WRMSR) {
    return;
  }
  run_->msr.error = inject_gp ? 1 : 0;
}

void KvmVcpu::Kick() {
  kick_pending_.store(true);
  immediate_exit().store(1);
  if (in_run_.load()) pthread_kill(thread_.load(), kKickSignal);
}

absl::Status KvmVcpu::SetBootEntry(const BootEntry& entry) {
  kvm_mp_state mp_state{};
  mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
  if (absl::Status s = Ioctl(fd_.get(), KVM_SET_MP_STATE, "KVM_SET_MP_STATE", &mp_state).status(); !s.ok()) {
    return s;
  }
  kvm_sregs sregs{};
  if (absl::Status s = Ioctl(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &sregs).status(); !s.ok()) return s;
  const uint64_t apic_base = sregs.apic_base;
  uint64_t interrupt_bitmap[std::size(sregs.interrupt_bitmap)];
  std::copy(std::begin(sregs.interrupt_bitmap), std::end(sregs.interrupt_bitmap), interrupt_bitmap);
  ToKvm(entry.sregs, sregs);
  sregs.apic_base = apic_base;
  std::copy(std::begin(interrupt_bitmap), std::end(interrupt_bitmap), std::begin(sregs.interrupt_bitmap));
  if (absl::Status s = Ioctl(fd_.get(), KVM_SET_SREGS, "KVM_SET_SREGS", &sregs).status(); !s.ok()) return s;
  kvm_regs regs = ToKvm(entry.regs);
  return Ioctl(fd_.get(), KVM_SET_REGS, "KVM_SET_REGS", &regs).status();
}

absl::StatusOr<uint64_t> KvmVcpu::TscKhz() {
  absl::StatusOr<int> khz = Ioctl(fd_.get(), KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  if (!khz.ok()) return khz.status();
  if (*khz <= 0) return absl::InternalError("KVM_GET_TSC_KHZ returned 0");
  return static_cast<uint64_t>(*khz);
}

absl::StatusOr<std::vector<uint32_t>> KvmVcpu::SavedMsrs() {
  if (!saved_msrs_) {
    absl::StatusOr<std::vector<uint32_t>> readable = ReadableMsrs(fd_.get(), *context_.msr_index_list);
    if (!readable.ok()) return readable.status();
    saved_msrs_ = *std::move(readable);
  }
  return *saved_msrs_;
}

absl::StatusOr<uint32_t> KvmVcpu::ReadLapicRegister(uint32_t offset) {
  if (offset > sizeof(kvm_lapic_state::regs) - 4 || offset % 0x10 != 0) {
    return absl::InvalidArgumentError(absl::StrCat("LAPIC register offset 0x", absl::Hex(offset)));
  }
  kvm_lapic_state lapic{};
  if (absl::Status s = Ioctl(fd_.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic).status(); !s.ok()) return s;
  uint32_t value;
  std::memcpy(&value, lapic.regs + offset, sizeof(value));
  return value;
}

absl::StatusOr<VcpuState> KvmVcpu::SaveState() {
  absl::StatusOr<std::vector<uint32_t>> msrs = SavedMsrs();
  if (!msrs.ok()) return msrs.status();
  absl::StatusOr<VcpuState> state =
      SaveKvmVcpuState({.vcpu_fd = fd_.get(), .xsave_size = context_.xsave_size, .msrs = *msrs});
  if (state.ok()) state->id = id_;
  return state;
}

absl::Status KvmVcpu::RestoreState(const VcpuState& state) {
  if (state.id != id_) {
    return absl::InvalidArgumentError(absl::StrCat("the state of vCPU ", state.id, " given to vCPU ", id_));
  }
  return RestoreKvmVcpuState({.vcpu_fd = fd_.get(), .xsave_size = context_.xsave_size}, state);
}

std::string KvmVcpu::DumpRegisters() {
  kvm_regs regs{};
  kvm_sregs sregs{};
  std::string header = absl::StrCat("vcpu ", id_, " registers:\n");
  if (absl::Status s = Ioctl(fd_.get(), KVM_GET_REGS, "KVM_GET_REGS", &regs).status(); !s.ok()) {
    return absl::StrCat(header, "  unavailable: ", s.message(), "\n");
  }
  if (absl::Status s = Ioctl(fd_.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &sregs).status();
      !s.ok()) {
    return absl::StrCat(header, "  unavailable: ", s.message(), "\n");
  }
  return absl::StrCat(header, FormatRegisters(FromKvm(regs), FromKvm(sregs)));
}

}  // namespace vmd::hv::kvm

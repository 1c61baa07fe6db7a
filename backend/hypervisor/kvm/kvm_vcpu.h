// A KVM vCPU: KVM_RUN with its exits mapped to hv::ExitKind, kicks that are
// never lost (immediate_exit plus a signal to the vCPU thread), its boot
// entry, and its state (kvm_vcpu_state.h).
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_H_

#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {

// The signal Kick() sends to a vCPU thread inside KVM_RUN. The backend
// installs a no-op handler for it without SA_RESTART (so the signal makes
// KVM_RUN return EINTR) and unblocks it on each vCPU thread; the process must
// not use it for anything else.
inline constexpr int kKickSignal = SIGUSR1;

class KvmVcpu : public Vcpu {
 public:
  // What the VM knows that its vCPUs' state needs.
  struct StateContext {
    size_t xsave_size = 0;  // KVM_CAP_XSAVE2 on the VM
    std::shared_ptr<const std::vector<uint32_t>> msr_index_list;  // KVM_GET_MSR_INDEX_LIST
  };
  // Maps the vCPU's kvm_run area of `run_size` bytes.
  static absl::StatusOr<std::unique_ptr<KvmVcpu>> Create(uint32_t id, Fd fd, size_t run_size,
                                                         StateContext context);
  ~KvmVcpu() override;

  uint32_t id() const override { return id_; }
  int fd() const { return fd_.get(); }

  absl::StatusOr<VcpuExit> Run() override;
  void CompleteIoIn(std::span<const uint8_t> data) override;
  void CompleteMmioRead(std::span<const uint8_t> data) override;
  void CompleteMsr(uint64_t value, bool inject_gp) override;
  void Kick() override;
  // Keeps what KVM set at creation in the fields the entry does not own
  // (APIC base, the pending-interrupt bitmap), and makes the vCPU runnable:
  // with the in-kernel irqchip only vCPU 0 would be, the others waiting for
  // INIT/SIPI; every vCPU enters the firmware directly instead.
  absl::Status SetBootEntry(const BootEntry& entry) override;
  absl::StatusOr<uint64_t> TscKhz() override;
  absl::StatusOr<VcpuState> SaveState() override;
  absl::StatusOr<uint32_t> ReadLapicRegister(uint32_t offset) override;
  absl::Status RestoreState(const VcpuState& state) override;
  // Best called from the vCPU thread (KVM serializes vCPU ioctls with
  // KVM_RUN, so from another thread it waits for the vCPU to exit).
  std::string DumpRegisters() override;

 private:
  KvmVcpu(uint32_t id, Fd fd, kvm_run* run, size_t run_size, StateContext context)
      : id_(id), fd_(std::move(fd)), run_(run), run_size_(run_size), context_(std::move(context)) {}
  // The MSRs SaveState saves: the index list, less those this vCPU refuses
  // to read (worked out on first use).
  absl::StatusOr<std::vector<uint32_t>> SavedMsrs();

  // Maps a completed KVM_RUN; nullopt for exits handled here (re-enter).
  std::optional<VcpuExit> MapExit();
  std::atomic_ref<uint8_t> immediate_exit() { return std::atomic_ref<uint8_t>(run_->immediate_exit); }

  const uint32_t id_;
  Fd fd_;
  kvm_run* const run_;
  const size_t run_size_;
  const StateContext context_;
  std::optional<std::vector<uint32_t>> saved_msrs_;

  // Kick protocol: Kick() sets kick_pending_, then immediate_exit, then
  // signals the thread if it may be inside KVM_RUN (in_run_). Run() sets
  // in_run_, consumes kick_pending_ before entering, clears immediate_exit
  // after every KVM_RUN, and treats EINTR as "check kick_pending_ again". The
  // seq_cst pairs (kick_pending_, in_run_) guarantee that either Run() sees
  // the kick before entering or Kick() sees in_run_ and signals.
  std::atomic<bool> kick_pending_{false};
  std::atomic<bool> in_run_{false};
  std::atomic<pthread_t> thread_{};
  bool thread_known_ = false;  // only touched by the vCPU thread

  uint32_t last_exit_reason_ = KVM_EXIT_UNKNOWN;
};

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_H_

// A KVM VM: in-kernel irqchip with x2APIC MSIs, one memory slot per region
// of the engine's guest memory (with dirty logging on demand), GSI routes,
// irqfds and ioeventfds, the MSR filter, vCPUs with per-vCPU CPUID, and the
// VM-wide state (clock, irqchip, routes, filter).
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backend/cpu/cpuid.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_gsi_routing.h"

namespace vmd::hv::kvm {

// Creates a VM fd and does the VM-wide setup every VM gets, before vCPUs
// exist: the VMX TSS and identity-map pages in the MMIO hole below 4 GiB
// (where guest RAM never is: StandardMemoryLayout), KVM_CREATE_IRQCHIP,
// KVM_CAP_X2APIC_API (32-bit ids, no broadcast quirk),
// KVM_CAP_X86_USER_SPACE_MSR (exit on filtered MSRs). ProbeKvm runs it too,
// so "usable" means this works.
absl::StatusOr<Fd> CreateConfiguredVm(int kvm_fd);

class KvmVm : public Vm {
 public:
  struct Host {
    Fd kvm_fd;                   // a dup of /dev/kvm's fd
    cpu::CpuidTable supported_cpuid;  // KVM_GET_SUPPORTED_CPUID
    size_t run_size = 0;         // KVM_GET_VCPU_MMAP_SIZE
    std::shared_ptr<const std::vector<uint32_t>> msr_index_list;  // KVM_GET_MSR_INDEX_LIST
  };
  static absl::StatusOr<std::unique_ptr<KvmVm>> Create(Host host, const VmConfig& config);

  BackendKind kind() const override { return BackendKind::kKvm; }
  absl::Status MapMemory(GuestMemory& memory) override;
  absl::Status SetDirtyLogging(bool enabled) override;
  absl::StatusOr<DirtyBitmap> TakeDirtyLog() override;
  // Creates vCPU `id` with the CPUID cpu::BuildVcpuCpuid makes of the VM's
  // base table (KVM_GET_SUPPORTED_CPUID, or the restored VM state's).
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) override;
  // KVM_SIGNAL_MSI. KVM returns how many APICs took it; 0 (no such APIC id,
  // or the guest has not software-enabled its APIC yet) is not an error.
  absl::Status SignalMsi(const MsiMessage& msi) override;
  absl::StatusOr<uint32_t> AddMsiRoute(const MsiMessage& msi) override;
  absl::Status RemoveMsiRoute(uint32_t gsi) override;
  absl::Status AssignIrqfd(uint32_t gsi, int eventfd, int resample_eventfd) override;
  absl::Status DeassignIrqfd(uint32_t gsi, int eventfd) override;
  absl::Status AssignIoeventfd(const IoEventfd& ioeventfd) override;
  absl::Status DeassignIoeventfd(const IoEventfd& ioeventfd) override;
  absl::Status SetMsrFilter(const msr::MsrFilter& filter) override;
  // KVM_GET_CLOCK, KVM_GET_IRQCHIP (PIC master, slave, IOAPIC), the MSI
  // routes and the filter installed; restored with the SET ioctls.
  absl::StatusOr<VmState> SaveState() override;
  absl::Status RestoreState(const VmState& state) override;

  int fd() const { return vm_fd_.get(); }

 private:
  KvmVm(Host host, Fd vm_fd, const VmConfig& config)
      : host_(std::move(host)), vm_fd_(std::move(vm_fd)), config_(config),
        base_cpuid_(host_.supported_cpuid), vcpu_created_(config.vcpus, false) {}
  // (Re)registers every region's slot with or without dirty logging.
  absl::Status SetSlotsLocked(bool dirty_logging) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Irqfd(uint32_t gsi, int eventfd, int resample_eventfd, uint32_t flags);
  absl::Status Ioeventfd(const IoEventfd& ioeventfd, bool deassign);

  const Host host_;
  const Fd vm_fd_;
  const VmConfig config_;
  GsiRouting gsi_routing_;
  absl::Mutex mu_;
  cpu::CpuidTable base_cpuid_ ABSL_GUARDED_BY(mu_);
  GuestMemory* memory_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool dirty_logging_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> vcpu_created_ ABSL_GUARDED_BY(mu_);
  // KVM_MSR_EXIT_REASON_* enabled on the VM (FILTER from creation on), and
  // the filter installed last.
  uint32_t msr_exit_reasons_ ABSL_GUARDED_BY(mu_) = msr::kMsrExitReasonFilter;
  std::optional<msr::MsrFilter> msr_filter_ ABSL_GUARDED_BY(mu_);
};

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_

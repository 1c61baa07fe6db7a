// A KVM VM: in-kernel irqchip with x2APIC MSIs, one memory slot over the
// engine's memfd-backed guest memory, the firmware loaded for a direct
// long-mode entry, and vCPUs with per-vCPU CPUID.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_irqfd.h"

namespace vmd::hv::kvm {

// Creates a VM fd and does the VM-wide setup every VM gets, before vCPUs
// exist: VMX TSS and identity-map pages (placed above RAM when RAM ends below
// them), KVM_CREATE_IRQCHIP, KVM_CAP_X2APIC_API (32-bit ids, no broadcast
// quirk), KVM_CAP_X86_USER_SPACE_MSR (exit on filtered MSRs). ProbeKvm runs
// it too, so "usable" means this works.
absl::StatusOr<Fd> CreateConfiguredVm(int kvm_fd, uint64_t memory_bytes);

// The guest TSC frequency in kHz: KVM_GET_TSC_KHZ on the VM when KVM has
// KVM_CAP_VM_TSC_CONTROL, else on a vCPU of a scratch VM.
absl::StatusOr<uint64_t> GuestTscKhz(int kvm_fd, int vm_fd);

class KvmVm : public Vm {
 public:
  struct Host {
    Fd kvm_fd;                     // a dup of /dev/kvm's fd
    CpuidEntries supported_cpuid;  // KVM_GET_SUPPORTED_CPUID
    size_t run_size = 0;           // KVM_GET_VCPU_MMAP_SIZE
  };
  static absl::StatusOr<std::unique_ptr<KvmVm>> Create(Host host, const VmConfig& config);

  // Registers `memory` as slot 0 at guest-physical 0.
  absl::Status SetGuestMemory(GuestMemory& memory) override;
  // Copies the firmware to VMD_FIRMWARE_GPA, writes the boot page tables,
  // GDT and TSS, and fills boot_info.tsc_khz from KVM_GET_TSC_KHZ when the
  // engine left it 0 (and the boot info has its magic).
  absl::Status LoadGuest(GuestMemory& memory) override;
  // After LoadGuest: creates vCPU `id` with its CPUID, makes it runnable
  // (application processors too: no INIT/SIPI) and sets the long-mode entry
  // state: RIP = entry, RSP = its stack, RDI = id, RSI = boot info.
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) override;
  // KVM_SIGNAL_MSI, fixed delivery, physical destination. An MSI no APIC
  // accepts (no such id, or the guest has not enabled its APIC yet) is
  // dropped without an error, like the sim backend does.
  absl::Status SignalMsi(uint32_t dest_apic_id, uint8_t vector) override;
  absl::Status SetMsrFilter(const msr::MsrFilter& filter) override;

  int fd() const { return vm_fd_.get(); }
  const VmConfig& config() const { return config_; }

  // A fixed-mode MSI to `dest_apic_id` with `vector` on a GSI of its own,
  // injected by writing the returned irqfd's eventfd (kvm_irqfd.h; defined
  // in kvm_irqfd.cc).
  absl::StatusOr<std::unique_ptr<MsiIrqfd>> CreateMsiIrqfd(uint32_t dest_apic_id, uint8_t vector);

 private:
  KvmVm(Host host, Fd vm_fd, const VmConfig& config)
      : host_(std::move(host)), vm_fd_(std::move(vm_fd)), config_(config),
        vcpu_created_(config.vcpus, false) {}

  const Host host_;
  const Fd vm_fd_;
  const VmConfig config_;
  // The VM's GSI routing table (KVM_SET_GSI_ROUTING replaces it whole).
  const std::shared_ptr<GsiRouting> gsi_routing_ = std::make_shared<GsiRouting>();
  absl::Mutex mu_;
  GuestMemory* memory_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool guest_loaded_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> vcpu_created_ ABSL_GUARDED_BY(mu_);
  // KVM_MSR_EXIT_REASON_* enabled on the VM (FILTER from creation on).
  uint32_t msr_exit_reasons_ ABSL_GUARDED_BY(mu_) = msr::kMsrExitReasonFilter;
};

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_VM_H_

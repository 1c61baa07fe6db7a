// A sim VM: the VM-wide half of the model of a KVM host -- memory with
// dirty logging of the guest model's writes, MSIs, GSI routes and irqfds
// (delivered by a poller thread, as the kernel's irqfd wakeup does),
// ioeventfds, the MSR filter, and the VM state. The sim models no irqchip
// pins: GSIs are MSI routes only.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_VM_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_VM_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "backend/cpu/host_profiles.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/sim/sim_guest.h"
#include "backend/hypervisor/sim/sim_irqfd_poller.h"

namespace vmd::hv {

class SimVcpu;

class SimVm final : public Vm, public SimPlatform {
 public:
  // MSI routes get GSIs from here up, as on kvm (above the IOAPIC's pins).
  static constexpr uint32_t kFirstMsiGsi = 24;
  // KVM_MAX_IRQ_ROUTES.
  static constexpr uint32_t kMaxGsis = 4096;

  SimVm(const VmConfig& config, const cpu::HostProfile& profile);
  ~SimVm() override;

  BackendKind kind() const override { return BackendKind::kSim; }
  absl::Status MapMemory(GuestMemory& memory) override;
  absl::Status SetDirtyLogging(bool enabled) override;
  absl::StatusOr<DirtyBitmap> TakeDirtyLog() override;
  absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) override;
  // Like the APIC bus: an interrupt to an absent APIC id is dropped; a
  // message of another format than FixedMsi's is refused (not modelled).
  absl::Status SignalMsi(const MsiMessage& msi) override;
  absl::StatusOr<uint32_t> AddMsiRoute(const MsiMessage& msi) override;
  absl::Status RemoveMsiRoute(uint32_t gsi) override;
  // As KVM: one eventfd per GSI binding; a resample eventfd is accepted and,
  // since MSI routes are edge-triggered, never signalled (KVM signals it
  // only on an IOAPIC EOI, kvm_notify_acked_irq()).
  absl::Status AssignIrqfd(uint32_t gsi, int eventfd, int resample_eventfd) override;
  absl::Status DeassignIrqfd(uint32_t gsi, int eventfd) override;
  absl::Status AssignIoeventfd(const IoEventfd& ioeventfd) override;
  absl::Status DeassignIoeventfd(const IoEventfd& ioeventfd) override;
  absl::Status SetMsrFilter(const msr::MsrFilter& filter) override;
  absl::StatusOr<VmState> SaveState() override;
  absl::Status RestoreState(const VmState& state) override;

  // SimPlatform, for the vCPUs' guest models.
  std::shared_ptr<const msr::MsrFilter> MsrFilter() const override;
  void MarkDirty(uint64_t gpa, uint64_t len) override;

  // Whether a guest write of `value` (`size` bytes) at `address` matches an
  // ioeventfd; if so it has been signalled and the write needs no exit.
  bool MatchIoeventfd(IoEventfd::Space space, uint64_t address, uint32_t size, uint64_t value);
  void Unregister(uint32_t id);

 private:
  void DeliverGsi(uint32_t gsi);
  void Deliver(const MsiMessage& msi);

  const VmConfig config_;
  const cpu::HostProfile& profile_;
  // Lock order: a vCPU's own lock, then mu_ (its guest model calls back
  // into the VM); vcpus_mu_, then a vCPU's lock (interrupt delivery).
  mutable std::mutex mu_;
  std::mutex vcpus_mu_;
  GuestMemory* memory_ = nullptr;
  cpu::CpuidTable base_cpuid_;
  std::shared_ptr<const msr::MsrFilter> msr_filter_;
  std::map<uint32_t, SimVcpu*> vcpus_;  // guarded by vcpus_mu_
  std::map<uint32_t, MsiMessage> msi_routes_;
  std::vector<IoEventfd> ioeventfds_;
  // Dirty pages since logging started or since the last TakeDirtyLog.
  std::optional<DirtyBitmap> dirty_;
  // Last, so that it stops before what its callback uses goes.
  SimIrqfdPoller irqfds_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_VM_H_

// vCPU state through KVM: the neutral VcpuState (vcpu_state.h) read and
// written with the vCPU ioctls, in the order the kernel needs.
//
// Save: KVM_GET_MP_STATE first (it runs kvm_apic_accept_events(), which may
// change the LAPIC and registers), then registers, special registers, XSAVE,
// XCRs, debug registers, the LAPIC, the MSRs, and KVM_GET_VCPU_EVENTS last
// (the other GETs may still move events). Restore: CPUID first (KVM checks
// CR4/EFER in KVM_SET_SREGS against it), the TSC frequency, MP state,
// registers, special registers (they carry APIC_BASE, which KVM_SET_LAPIC
// relies on), XSAVE, XCRs, debug registers, the LAPIC, the MSRs (TSC before
// TSC_DEADLINE), and the events last. Every vCPU of the VM must be outside
// KVM_RUN: the events and LAPIC of one vCPU are changed by IPIs of others.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_STATE_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_STATE_H_

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/hypervisor/vcpu_state.h"

namespace vmd::hv::kvm {

Registers FromKvm(const kvm_regs& regs);
kvm_regs ToKvm(const Registers& regs);
SpecialRegisters FromKvm(const kvm_sregs& sregs);
// Overwrites every field of `sregs` with `from`.
void ToKvm(const SpecialRegisters& from, kvm_sregs& sregs);

// KVM_GET_MSR_INDEX_LIST on /dev/kvm: every MSR KVM saves and restores
// (msrs_to_save and emulated_msrs in arch/x86/kvm/x86.c).
absl::StatusOr<std::vector<uint32_t>> GetMsrIndexList(int kvm_fd);
// KVM_GET_MSR_FEATURE_INDEX_LIST: the feature MSRs (read with KVM_GET_MSRS
// on /dev/kvm itself).
absl::StatusOr<std::vector<uint32_t>> GetMsrFeatureIndexList(int kvm_fd);
// The MSRs of `candidates` this vCPU can read (KVM_GET_MSRS stops at the
// first MSR it refuses: that one is dropped and the rest retried).
absl::StatusOr<std::vector<uint32_t>> ReadableMsrs(int vcpu_fd, std::span<const uint32_t> candidates);
absl::StatusOr<std::vector<MsrValue>> GetMsrs(int vcpu_fd, std::span<const uint32_t> indexes);
// All or an error naming the first MSR KVM refused.
absl::Status SetMsrs(int vcpu_fd, std::span<const MsrValue> msrs);

struct KvmVcpuStateIo {
  int vcpu_fd = -1;
  // KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) on the VM: the XSAVE area's size
  // (0 or <= 4096: KVM_GET_XSAVE's 4096 bytes).
  size_t xsave_size = 0;
  // The MSRs to save: ReadableMsrs of GetMsrIndexList.
  std::span<const uint32_t> msrs;
};
absl::StatusOr<VcpuState> SaveKvmVcpuState(const KvmVcpuStateIo& io);
absl::Status RestoreKvmVcpuState(const KvmVcpuStateIo& io, const VcpuState& state);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_VCPU_STATE_H_

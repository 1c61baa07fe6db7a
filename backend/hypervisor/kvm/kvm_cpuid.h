// CPUID through KVM: the neutral table (backend/cpu/cpuid.h) converted to and
// from struct kvm_cpuid_entry2 at the ioctl. The per-vCPU adjustments are the
// backend-neutral cpu::BuildVcpuCpuid.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_

#include <span>

#include "absl/status/statusor.h"
#include "backend/cpu/cpuid.h"

namespace vmd::hv::kvm {

// KVM_GET_SUPPORTED_CPUID on /dev/kvm.
absl::StatusOr<cpu::CpuidTable> GetSupportedCpuid(int kvm_fd);

// KVM_SET_CPUID2 / KVM_GET_CPUID2 on a vCPU fd.
absl::Status SetVcpuCpuid(int vcpu_fd, std::span<const cpu::CpuidEntry> entries);
absl::StatusOr<cpu::CpuidTable> GetVcpuCpuid(int vcpu_fd);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_

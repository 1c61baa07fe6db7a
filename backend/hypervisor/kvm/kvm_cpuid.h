// Guest CPUID: what KVM supports on this host (KVM_GET_SUPPORTED_CPUID),
// adjusted per vCPU for the VM's topology (one package, one thread per core,
// vCPU id = x2APIC id) and with the hypervisor and x2APIC bits set.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_

#include <linux/kvm.h>

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/statusor.h"

namespace vmd::hv::kvm {

using CpuidEntries = std::vector<kvm_cpuid_entry2>;

// KVM_GET_SUPPORTED_CPUID on /dev/kvm.
absl::StatusOr<CpuidEntries> GetSupportedCpuid(int kvm_fd);

// The CPUID of vCPU `vcpu_id` of a VM with `vcpus` vCPUs:
//   leaf 0x1: initial APIC id, logical processor count, HTT, x2APIC and
//             hypervisor bits;
//   leaf 0xB (and 0x1F when KVM reports it): SMT level of 1 thread, core level
//             of `vcpus` cores, x2APIC id in EDX; the max basic leaf is raised
//             to 0xB if needed;
//   leaf 0x4: cores per package (Intel);
//   leaves 0x80000001/0x80000008/0x8000001E: CmpLegacy, core count and APIC
//             id size, extended APIC id (AMD).
CpuidEntries BuildVcpuCpuid(std::span<const kvm_cpuid_entry2> supported, uint32_t vcpu_id,
                            uint32_t vcpus);

// The entry for (function, index), or nullptr. `index` matters only for
// entries flagged KVM_CPUID_FLAG_SIGNIFCANT_INDEX.
const kvm_cpuid_entry2* FindCpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                  uint32_t index = 0);

// KVM_SET_CPUID2 on a vCPU fd.
absl::Status SetVcpuCpuid(int vcpu_fd, std::span<const kvm_cpuid_entry2> entries);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_CPUID_H_

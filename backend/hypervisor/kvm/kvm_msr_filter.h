// KVM_X86_SET_MSR_FILTER for a VM, from the backend-neutral filter of
// backend/msr/msr_filter.h: which guest RDMSR/WRMSR accesses KVM handles and
// which exit to user space (kMsrRead/kMsrWrite). Rules (REFERENCE.md,
// api.rst): at most 16 ranges of at most 0x600 bitmap bytes; the first range
// matching index and access decides; x2APIC MSRs cannot be filtered.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_

#include "absl/status/status.h"
#include "backend/msr/msr_filter.h"

namespace vmd::hv::kvm {

// Enables the filter's exit reasons (KVM_CAP_X86_USER_SPACE_MSR; FILTER is
// always on, so denied accesses exit instead of raising #GP in the kernel),
// then installs the filter, atomically for each vCPU even while they run.
// Reasons only grow before the filter changes and shrink after it, so no
// access ever sees a filter without the exits it relies on.
absl::Status SetMsrFilter(int vm_fd, const msr::MsrFilter& filter, uint32_t* enabled_reasons);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_

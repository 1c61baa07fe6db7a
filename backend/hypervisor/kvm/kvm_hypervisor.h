// The kvm backend: real ioctls on /dev/kvm.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_HYPERVISOR_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_HYPERVISOR_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "backend/hypervisor/hypervisor.h"

namespace vmd::hv {

// Opens /dev/kvm, checks the API version and every capability the backend
// relies on, and creates (then drops) a VM: usable only if all of that works.
// `reason` names what is missing (e.g. "missing KVM capabilities:
// KVM_CAP_X86_MSR_FILTER"); max_vcpus comes from KVM_CAP_MAX_VCPUS.
BackendAvailability ProbeKvm();
absl::StatusOr<std::unique_ptr<Hypervisor>> OpenKvm();

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_HYPERVISOR_H_

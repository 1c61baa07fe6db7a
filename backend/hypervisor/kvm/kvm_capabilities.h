// The KVM API version and capabilities the kvm backend relies on.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_CAPABILITIES_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_CAPABILITIES_H_

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace vmd::hv::kvm {

inline constexpr int kKvmApiVersion = 12;

struct RequiredCapability {
  int capability;    // KVM_CAP_*
  const char* name;  // "KVM_CAP_IRQCHIP"
  const char* why;   // what the backend uses it for
  // Bits the KVM_CHECK_EXTENSION result must contain (0: any non-zero value).
  uint64_t required_bits = 0;
};

// Every capability the backend uses, in the order it checks them.
std::span<const RequiredCapability> RequiredCapabilities();

// The names of the required capabilities `kvm_fd` (/dev/kvm) lacks.
std::vector<std::string> MissingCapabilities(int kvm_fd);

// Most vCPUs per VM: KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4 (the
// documented default), bounded by KVM_CAP_MAX_VCPU_ID since vCPU ids are
// 0..n-1.
uint32_t MaxVcpus(int kvm_fd);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_CAPABILITIES_H_

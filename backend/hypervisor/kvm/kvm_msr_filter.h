// KVM_X86_SET_MSR_FILTER for a VM: which guest RDMSR/WRMSR accesses KVM
// handles and which exit to user space (kMsrRead/kMsrWrite). The backend
// enables KVM_MSR_EXIT_REASON_FILTER on every VM, so a denied access exits
// instead of raising #GP. Rules (REFERENCE.md, api.rst): at most 16 ranges,
// each with READ and/or WRITE flags and at most 0x600 bytes of bitmap (a set
// bit allows); the first range matching both index and access decides;
// x2APIC MSRs 0x800-0x8ff cannot be filtered; an empty filter with
// DEFAULT_DENY is invalid.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"

namespace vmd::hv::kvm {

struct MsrFilterRange {
  bool read = false;   // the range applies to RDMSR
  bool write = false;  // the range applies to WRMSR
  uint32_t base = 0;   // first MSR index
  // One bit per MSR from `base`, LSB first; 1 allows, 0 denies (exits).
  std::vector<uint8_t> bitmap;
  uint32_t nmsrs = 0;  // MSRs covered, at most bitmap.size() * 8
};

struct MsrFilter {
  bool default_deny = false;
  std::vector<MsrFilterRange> ranges;
};

// Checks the filter against KVM's rules; INVALID_ARGUMENT names the range
// and the rule.
absl::Status ValidateMsrFilter(const MsrFilter& filter);

// Installs `filter` on the VM (atomically for each vCPU, also while vCPUs
// run). An empty, default-allow filter turns filtering off.
absl::Status SetMsrFilter(int vm_fd, const MsrFilter& filter);

// A range that denies exactly `indices` (all within [base, base + n)) for
// the given accesses and allows the rest of the range.
MsrFilterRange DenyMsrs(uint32_t base, uint32_t n, std::span<const uint32_t> indices, bool read,
                        bool write);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_MSR_FILTER_H_

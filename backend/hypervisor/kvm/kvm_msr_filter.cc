#include "backend/hypervisor/kvm/kvm_msr_filter.h"

#include <linux/kvm.h>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {
namespace {

absl::Status EnableExitReasons(int vm_fd, uint32_t reasons) {
  kvm_enable_cap cap{};
  cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
  cap.args[0] = reasons;
  return Ioctl(vm_fd, KVM_ENABLE_CAP, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)", &cap).status();
}

}  // namespace

absl::Status SetMsrFilter(int vm_fd, const msr::MsrFilter& filter, uint32_t* enabled_reasons) {
  if (absl::Status s = msr::ValidateMsrFilter(filter); !s.ok()) return s;
  const uint32_t wanted = filter.exit_reasons | msr::kMsrExitReasonFilter;
  if ((wanted & ~*enabled_reasons) != 0) {
    if (absl::Status s = EnableExitReasons(vm_fd, *enabled_reasons | wanted); !s.ok()) return s;
    *enabled_reasons |= wanted;
  }
  kvm_msr_filter raw{};
  raw.flags = filter.default_deny ? KVM_MSR_FILTER_DEFAULT_DENY : KVM_MSR_FILTER_DEFAULT_ALLOW;
  // KVM copies the bitmaps during the ioctl, so pointing at `filter` is fine.
  for (size_t i = 0; i < filter.ranges.size(); ++i) {
    const msr::MsrFilterRange& r = filter.ranges[i];
    raw.ranges[i].flags = r.flags;
    raw.ranges[i].nmsrs = r.nmsrs;
    raw.ranges[i].base = r.base;
    raw.ranges[i].bitmap = const_cast<uint8_t*>(r.bitmap.data());
  }
  if (absl::Status s = Ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, "KVM_X86_SET_MSR_FILTER", &raw).status();
      !s.ok()) {
    return s;
  }
  if (*enabled_reasons != wanted) {
    if (absl::Status s = EnableExitReasons(vm_fd, wanted); !s.ok()) return s;
    *enabled_reasons = wanted;
  }
  return absl::OkStatus();
}

}  // namespace vmd::hv::kvm

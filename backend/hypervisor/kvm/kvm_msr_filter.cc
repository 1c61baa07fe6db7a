#include "backend/hypervisor/kvm/kvm_msr_filter.h"

#include <linux/kvm.h>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {
namespace {

constexpr size_t kMaxBitmapBytes = 0x600;  // KVM_MSR_FILTER_MAX_BITMAP_SIZE

}  // namespace

absl::Status ValidateMsrFilter(const MsrFilter& filter) {
  if (filter.ranges.size() > KVM_MSR_FILTER_MAX_RANGES) {
    return absl::InvalidArgumentError(absl::StrCat("MSR filter: ", filter.ranges.size(),
                                                   " ranges, KVM allows at most ",
                                                   KVM_MSR_FILTER_MAX_RANGES));
  }
  if (filter.default_deny && filter.ranges.empty()) {
    return absl::InvalidArgumentError("MSR filter: default deny needs at least one range");
  }
  for (size_t i = 0; i < filter.ranges.size(); ++i) {
    const MsrFilterRange& r = filter.ranges[i];
    if (!r.read && !r.write) {
      return absl::InvalidArgumentError(
          absl::StrCat("MSR filter range ", i, ": applies to neither reads nor writes"));
    }
    if (r.nmsrs == 0 || r.bitmap.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("MSR filter range ", i, ": no MSRs"));
    }
    if (r.bitmap.size() > kMaxBitmapBytes) {
      return absl::InvalidArgumentError(absl::StrCat("MSR filter range ", i, ": bitmap of ",
                                                     r.bitmap.size(), " bytes, at most ",
                                                     kMaxBitmapBytes));
    }
    if (r.nmsrs > r.bitmap.size() * 8) {
      return absl::InvalidArgumentError(absl::StrCat("MSR filter range ", i, ": ", r.nmsrs,
                                                     " MSRs but a bitmap of ", r.bitmap.size() * 8,
                                                     " bits"));
    }
    if (uint64_t{r.base} + r.nmsrs > (uint64_t{1} << 32)) {
      return absl::InvalidArgumentError(
          absl::StrCat("MSR filter range ", i, ": runs past MSR 0xffffffff"));
    }
  }
  return absl::OkStatus();
}

absl::Status SetMsrFilter(int vm_fd, const MsrFilter& filter) {
  if (absl::Status s = ValidateMsrFilter(filter); !s.ok()) return s;
  kvm_msr_filter raw{};
  raw.flags = filter.default_deny ? KVM_MSR_FILTER_DEFAULT_DENY : KVM_MSR_FILTER_DEFAULT_ALLOW;
  // KVM copies the bitmaps during the ioctl, so pointing at `filter` is fine.
  for (size_t i = 0; i < filter.ranges.size(); ++i) {
    const MsrFilterRange& r = filter.ranges[i];
    raw.ranges[i].flags =
        (r.read ? KVM_MSR_FILTER_READ : 0u) | (r.write ? KVM_MSR_FILTER_WRITE : 0u);
    raw.ranges[i].nmsrs = r.nmsrs;
    raw.ranges[i].base = r.base;
    raw.ranges[i].bitmap = const_cast<uint8_t*>(r.bitmap.data());
  }
  return Ioctl(vm_fd, KVM_X86_SET_MSR_FILTER, "KVM_X86_SET_MSR_FILTER", &raw).status();
}

MsrFilterRange DenyMsrs(uint32_t base, uint32_t n, std::span<const uint32_t> indices, bool read,
                        bool write) {
  MsrFilterRange range;
  range.read = read;
  range.write = write;
  range.base = base;
  range.nmsrs = n;
  range.bitmap.assign((n + 7) / 8, 0xff);
  for (uint32_t index : indices) {
    if (index < base || index - base >= n) continue;
    uint32_t bit = index - base;
    range.bitmap[bit / 8] &= static_cast<uint8_t>(~(1u << (bit % 8)));
  }
  return range;
}

}  // namespace vmd::hv::kvm

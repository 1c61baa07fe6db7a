#include "backend/msr/msr_filter.h"

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"

namespace vmd::msr {

bool MsrFilterRange::Allows(uint32_t index) const {
  const uint32_t bit = index - base;
  return (bitmap[bit / 8] >> (bit % 8)) & 1;
}

size_t MsrFilterBitmapBytes(uint32_t nmsrs) { return (static_cast<size_t>(nmsrs) + 63) / 64 * 8; }

bool KvmAllows(const MsrFilter& filter, uint32_t index, bool write) {
  if (IsX2apicMsr(index)) return true;
  const uint32_t type = write ? kMsrFilterWrite : kMsrFilterRead;
  bool any_range = false;
  for (const MsrFilterRange& range : filter.ranges) {
    if (range.nmsrs == 0) continue;  // kvm_add_msr_filter() skips it
    any_range = true;
    const uint32_t end = range.base + range.nmsrs;  // u32, as in the kernel
    if (index >= range.base && index < end && (range.flags & type) != 0) return range.Allows(index);
  }
  if (!any_range) return true;
  return !filter.default_deny;
}

absl::Status ValidateMsrFilter(const MsrFilter& filter) {
  if (filter.ranges.size() > kMsrFilterMaxRanges) {
    return absl::InvalidArgumentError(
        absl::StrCat("msr filter: ", filter.ranges.size(), " ranges, KVM takes at most ", kMsrFilterMaxRanges));
  }
  constexpr uint32_t kValidExitReasons = kMsrExitReasonInval | kMsrExitReasonUnknown | kMsrExitReasonFilter;
  if ((filter.exit_reasons & ~kValidExitReasons) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("msr filter: exit_reasons 0x", absl::Hex(filter.exit_reasons), " has undefined bits"));
  }
  bool empty = true;
  for (size_t i = 0; i < filter.ranges.size(); ++i) {
    const MsrFilterRange& range = filter.ranges[i];
    if (range.nmsrs == 0) continue;
    empty = false;
    if ((range.flags & ~kMsrFilterReadWrite) != 0 || range.flags == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("msr filter: ranges[", i, "].flags 0x", absl::Hex(range.flags), " must be READ and/or WRITE"));
    }
    const size_t bytes = MsrFilterBitmapBytes(range.nmsrs);
    if (bytes > kMsrFilterMaxBitmapBytes) {
      return absl::InvalidArgumentError(absl::StrCat("msr filter: ranges[", i, "] has ", range.nmsrs,
                                                     " MSRs, KVM takes at most ", kMsrFilterMaxRangeMsrs));
    }
    if (range.bitmap.size() < bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("msr filter: ranges[", i, "].bitmap has ", range.bitmap.size(), " bytes, KVM reads ", bytes));
    }
  }
  if (empty && filter.default_deny) {
    return absl::InvalidArgumentError("msr filter: DEFAULT_DENY needs at least one non-empty range");
  }
  return absl::OkStatus();
}

}  // namespace vmd::msr

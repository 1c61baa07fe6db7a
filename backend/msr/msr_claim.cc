#include "backend/msr/msr_claim.h"

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"
#include "backend/msr/msr_text.h"

namespace vmd::msr {

absl::Status ValidateMsrClaims(std::span<const MsrClaim> claims) {
  for (const MsrClaim& c : claims) {
    const uint64_t end = uint64_t{c.first} + c.count;
    if (c.count == 0 || end > (uint64_t{1} << 32)) {
      return absl::InvalidArgumentError(absl::StrCat("MSR claim of ", c.owner, ": empty or past 0xffffffff"));
    }
    if (c.access != v1::MSR_ACCESS_READ && c.access != v1::MSR_ACCESS_WRITE && c.access != v1::MSR_ACCESS_READ_WRITE) {
      return absl::InvalidArgumentError(absl::StrCat("MSR claim of ", c.owner, ": access must be READ, WRITE or READ_WRITE"));
    }
    if (c.first <= kX2apicLast && end > kX2apicFirst) {
      return absl::InvalidArgumentError(absl::StrCat("MSR claim of ", c.owner, " (", MsrSpanText(c.first, end),
                                                     ") covers x2APIC MSRs, which KVM's filter cannot trap"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vmd::msr

// An engine-owned MSR claim: MSRs the engine itself emulates (a vPMU, a
// generation-ID device, a benchmark), merged with the user's policy into one
// KVM filter. Claims come first: a claimed access always exits to the
// engine and reaches the claim's owner, whatever the policy says; policy
// rules and handlers a claim overrides are reported as warnings, never as
// errors (the policy stays valid when the engine claims or releases MSRs).
#ifndef VMD_BACKEND_MSR_MSR_CLAIM_H_
#define VMD_BACKEND_MSR_MSR_CLAIM_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

struct MsrClaim {
  std::string owner;  // "bench", "vpmu", ...: named in warnings
  uint32_t first = 0;
  uint32_t count = 0;
  v1::MsrAccess access = v1::MSR_ACCESS_READ_WRITE;
};

// MsrSegment::rule of a segment claim `c` decides: below every other owner.
inline constexpr int kFirstClaimOwner = -3;
constexpr int ClaimOwner(size_t claim) { return kFirstClaimOwner - static_cast<int>(claim); }
constexpr bool IsClaimOwner(int owner) { return owner <= kFirstClaimOwner; }
constexpr size_t ClaimOf(int owner) { return static_cast<size_t>(kFirstClaimOwner - owner); }

// INVALID_ARGUMENT naming the claim: an empty or wrapping range, an access
// other than READ, WRITE or READ_WRITE, or x2APIC MSRs (KVM's filter cannot
// trap those).
absl::Status ValidateMsrClaims(std::span<const MsrClaim> claims);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_CLAIM_H_

// What an MsrPolicy means, straight from msr.proto: the reference the
// compiled forms (KVM filter, decision table) are tested against. O(rules) per
// lookup: never the per-exit path.
#ifndef VMD_BACKEND_MSR_MSR_POLICY_MODEL_H_
#define VMD_BACKEND_MSR_MSR_POLICY_MODEL_H_

#include <cstdint>

#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// Whether a rule's `access` covers reads (write = false) or writes.
bool AccessCovers(v1::MsrAccess access, bool write);

// default_action with UNSPECIFIED read as ALLOW.
v1::MsrAction EffectiveDefaultAction(const v1::MsrPolicy& policy);

// The action for an access: the first rule whose [first, first + count)
// holds `index` and whose access covers the direction; none → the default.
// x2APIC MSRs (0x800-0x8ff) are always ALLOW: KVM handles them in the kernel
// whatever the filter says, so a policy cannot mean anything else for them.
v1::MsrAction PolicyAction(const v1::MsrPolicy& policy, uint32_t index, bool write);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_POLICY_MODEL_H_

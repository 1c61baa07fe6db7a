#include "backend/msr/msr_policy_model.h"

#include "backend/msr/msr_index.h"

namespace vmd::msr {

bool AccessCovers(v1::MsrAccess access, bool write) {
  switch (access) {
    case v1::MSR_ACCESS_READ:
      return !write;
    case v1::MSR_ACCESS_WRITE:
      return write;
    case v1::MSR_ACCESS_READ_WRITE:
      return true;
    default:
      return false;
  }
}

v1::MsrAction EffectiveDefaultAction(const v1::MsrPolicy& policy) {
  return policy.default_action() == v1::MSR_ACTION_UNSPECIFIED ? v1::MSR_ACTION_ALLOW : policy.default_action();
}

v1::MsrAction PolicyAction(const v1::MsrPolicy& policy, uint32_t index, bool write) {
  if (IsX2apicMsr(index)) return v1::MSR_ACTION_ALLOW;
  for (const v1::MsrRule& rule : policy.rules()) {
    const uint64_t end = uint64_t{rule.first()} + rule.count();
    if (index >= rule.first() && index < end && AccessCovers(rule.access(), write)) return rule.action();
  }
  return EffectiveDefaultAction(policy);
}

}  // namespace vmd::msr

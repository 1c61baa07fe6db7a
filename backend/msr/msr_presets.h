// Named MSR policies for SetMsrPolicyRequest.preset. Each is documented MSR
// by MSR in backend/msr/README.md.
//  - "default": everything ALLOW: KVM alone decides, no filter installed.
//  - "strict": default DENY; ALLOW only what a guest OS needs (time, APIC,
//    syscalls, segment bases, caching, machine check, speculation control,
//    XSAVE, KVM paravirtual MSRs, and a few per vendor).
//  - "platform-compat": default ALLOW; DENY the other vendor's MSRs, so a
//    guest on this host profile sees #GP where the real CPU has no MSR (the
//    seed's "not handle AMD specific MSRs on an Intel platform and vice
//    versa").
#ifndef VMD_BACKEND_MSR_MSR_PRESETS_H_
#define VMD_BACKEND_MSR_MSR_PRESETS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/cpu/cpu_vendor.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::msr {

// "default", "strict", "platform-compat".
std::vector<std::string> MsrPresetNames();

// The preset's policy, with `preset` set to `name`. INVALID_ARGUMENT
// (field "preset") for an unknown name. Every preset compiles for both
// vendors (tests/msr/msr_presets_test.cc).
absl::StatusOr<v1::MsrPolicy> MsrPreset(const std::string& name, cpu::CpuVendor vendor);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_PRESETS_H_

// PMU negotiation: what a VM asking for `spec` gets on a host, item by item
// with the reason and the layer that provides it; never a silent downgrade
// and never a fake (a layer offers only what it really provides).
//
// Two layers can provide a guest PMU: KVM's in-kernel vPMU (hardware
// counters; up to the version the host kernel gives, upstream 2), and the
// engine's own vPMU in user space behind the MSR filter (versions up to 5,
// Intel architectural only, counting only what it can count honestly: core
// and reference cycles from the vCPU's run time; no LBR, no PEBS). The one
// that satisfies the whole request wins, KVM first; otherwise the one that
// satisfies more items.
#ifndef VMD_BACKEND_PMU_PMU_NEGOTIATION_H_
#define VMD_BACKEND_PMU_PMU_NEGOTIATION_H_

#include <string>

#include "absl/status/status.h"
#include "backend/cpu/cpu_vendor.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::pmu {

// Who the guest is, on which host.
struct PmuTarget {
  std::string host;  // "kvm" or "sim:<profile>"
  cpu::CpuVendor guest_vendor = cpu::CpuVendor::kIntel;
  // The guest's CPU family and model are the host's (cpuid_model_is_consistent).
  bool model_is_host = true;
};

// `spec` must be valid (ValidatePmuSpec).
v1::PmuGrant NegotiatePmu(const v1::PmuSpec& spec, const v1::HostPmu& host, const PmuTarget& target);

// OK unless `spec` is strict and `grant` does not satisfy it: then
// FAILED_PRECONDITION (reason PMU_NOT_GRANTED) listing every item not
// granted as asked, with its reason.
absl::Status RefuseUnlessGranted(const v1::PmuSpec& spec, const v1::PmuGrant& grant, const std::string& vm);

// Whether a VM running with `grant` can run on `host` as it is (a snapshot
// restored there, a migration): the layer is there, counters and version
// fit, and LBR's format and the CPU model are the host's. FAILED_PRECONDITION
// saying what does not fit.
absl::Status GrantRunsOn(const v1::PmuGrant& grant, const v1::HostPmu& host, const PmuTarget& target);

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_PMU_NEGOTIATION_H_

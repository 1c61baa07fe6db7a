#include "daemon/core/msr_policy.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/msr/msr_presets.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/host/host_inventory.h"

namespace vmd::daemon {

msr::MsrTopology TopologyOf(const v1::VmSpec& spec) {
  return msr::MsrTopology{.cores = spec.vcpus(), .threads = spec.vcpus()};
}

cpu::CpuVendor VendorOf(const v1::VmSpec& spec, const v1::HostInfo& host) {
  std::string vendor = host.cpu_vendor();
  if (EffectiveBackend(spec, host) == "sim") {
    const std::string profile = spec.sim_profile().empty() ? host.default_sim_profile() : spec.sim_profile();
    for (const v1::SimProfile& p : host.sim_profiles()) {
      if (p.name() == profile) vendor = p.vendor();
    }
  }
  return cpu::ParseCpuVendor(vendor).value_or(cpu::CpuVendor::kIntel);
}

absl::StatusOr<v1::MsrPolicy> ResolveMsrPolicy(const v1::SetMsrPolicyRequest& request, const v1::VmSpec& spec,
                                               const v1::HostInfo& host) {
  switch (request.source_case()) {
    case v1::SetMsrPolicyRequest::kPolicy: return request.policy();
    case v1::SetMsrPolicyRequest::kPreset: {
      absl::StatusOr<v1::MsrPolicy> preset = msr::MsrPreset(request.preset(), VendorOf(spec, host));
      if (!preset.ok()) {
        return rpc::InvalidField("preset", absl::StrCat("unknown preset ", rpc::QuotedInput(request.preset()),
                                                        "; known: ", absl::StrJoin(msr::MsrPresetNames(), ", ")));
      }
      preset->set_preset(request.preset());
      return preset;
    }
    case v1::SetMsrPolicyRequest::SOURCE_NOT_SET: break;
  }
  return rpc::InvalidField("policy", "set either policy or preset");
}

absl::StatusOr<msr::CompiledMsrPolicy> CompileForVm(const v1::MsrPolicy& policy, const v1::VmSpec& spec,
                                                    const std::string& field) {
  absl::StatusOr<msr::CompiledMsrPolicy> compiled = msr::CompileMsrPolicy(policy, TopologyOf(spec));
  if (!compiled.ok()) {
    return rpc::WithFieldPrefix(compiled.status(), field);
  }
  return compiled;
}

}  // namespace vmd::daemon

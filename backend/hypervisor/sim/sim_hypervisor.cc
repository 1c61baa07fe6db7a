#include "backend/hypervisor/sim/sim_hypervisor.h"

#include "absl/strings/str_cat.h"
#include "backend/cpu/host_profiles.h"
#include "backend/hypervisor/sim/sim_cpu.h"
#include "backend/hypervisor/sim/sim_msr_table.h"
#include "backend/hypervisor/sim/sim_vm.h"

namespace vmd::hv {
namespace {

class SimHypervisor final : public Hypervisor {
 public:
  explicit SimHypervisor(const cpu::HostProfile& profile) : profile_(profile), report_(SimHostReport(profile)) {}
  BackendKind kind() const override { return BackendKind::kSim; }
  uint32_t MaxVcpus() const override { return profile_.max_vcpus; }
  const cpu::KvmHostReport& HostReport() const override { return report_; }

  absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) override {
    if (config.vcpus == 0 || config.vcpus > profile_.max_vcpus) {
      return absl::InvalidArgumentError(absl::StrCat("sim: vcpus must be 1..", profile_.max_vcpus));
    }
    return std::make_unique<SimVm>(config, profile_);
  }

 private:
  const cpu::HostProfile& profile_;
  const cpu::KvmHostReport report_;
};

}  // namespace

cpu::KvmHostReport SimHostReport(const cpu::HostProfile& profile) {
  cpu::KvmHostReport r;
  r.supported_cpuid = SimBaseCpuid(profile);
  r.max_vcpus = profile.max_vcpus;
  r.tsc_khz = profile.tsc_khz;
  // The profile's kernel: KVM_PMU_CAP_DISABLE and event filters with a vPMU.
  r.pmu_capability = profile.kernel_vpmu_version > 0 ? 1 : 0;
  r.pmu_event_filter = profile.kernel_vpmu_version > 0;
  for (const SimMsrSpec& spec : SimMsrTable()) {
    for (uint32_t i = 0; i < spec.count; ++i) {
      if (SimVendorsHave(spec.listed & spec.vendors, profile.vendor)) r.msr_index_list.push_back(spec.index + i);
    }
    if (spec.feature && SimVendorsHave(spec.vendors, profile.vendor)) {
      r.feature_msr_index_list.push_back(spec.index);
      r.feature_msrs[spec.index] = spec.index == 0x10a ? profile.arch_capabilities : spec.reset;
    }
  }
  return r;
}

std::unique_ptr<Hypervisor> OpenSim(const cpu::HostProfile& profile) {
  return std::make_unique<SimHypervisor>(profile);
}

BackendAvailability ProbeSim() { return {BackendKind::kSim, true, "", cpu::DefaultHostProfile().max_vcpus}; }

absl::StatusOr<std::unique_ptr<Hypervisor>> OpenSim(const std::string& profile) {
  const cpu::HostProfile* p = profile.empty() ? &cpu::DefaultHostProfile() : cpu::FindHostProfile(profile);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("sim: no host profile named '", profile, "'"));
  return OpenSim(*p);
}

}  // namespace vmd::hv

#include "backend/hypervisor/sim/sim_hypervisor.h"

#include "absl/strings/str_cat.h"
#include "backend/cpu/host_profiles.h"
#include "backend/hypervisor/sim/sim_vm.h"

namespace vmd::hv {
namespace {

class SimHypervisor final : public Hypervisor {
 public:
  explicit SimHypervisor(const cpu::HostProfile& profile) : profile_(profile) {}
  BackendKind kind() const override { return BackendKind::kSim; }
  uint32_t MaxVcpus() const override { return profile_.max_vcpus; }

  absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) override {
    if (config.vcpus == 0 || config.vcpus > profile_.max_vcpus) {
      return absl::InvalidArgumentError(absl::StrCat("sim: vcpus must be 1..", profile_.max_vcpus));
    }
    return std::make_unique<SimVm>(config, profile_);
  }

 private:
  const cpu::HostProfile& profile_;
};

}  // namespace

BackendAvailability ProbeSim() { return {BackendKind::kSim, true, "", cpu::DefaultHostProfile().max_vcpus}; }

absl::StatusOr<std::unique_ptr<Hypervisor>> OpenSim(const std::string& profile) {
  const cpu::HostProfile* p = profile.empty() ? &cpu::DefaultHostProfile() : cpu::FindHostProfile(profile);
  if (p == nullptr) return absl::NotFoundError(absl::StrCat("sim: no host profile named '", profile, "'"));
  return std::make_unique<SimHypervisor>(*p);
}

}  // namespace vmd::hv

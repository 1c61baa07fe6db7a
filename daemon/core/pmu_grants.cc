#include "daemon/core/pmu_grants.h"

#include "absl/strings/str_cat.h"
#include "backend/cpu/cpu_vendor.h"
#include "backend/pmu/pmu_negotiation.h"
#include "backend/pmu/pmu_spec_validation.h"
#include "backend/rpc/error_details.h"
#include "daemon/host/host_inventory.h"

namespace vmd::daemon {
namespace {

struct Negotiation {
  const v1::HostPmu* host = nullptr;
  pmu::PmuTarget target;
};

// The host PMU and guest for `backend` ("kvm"/"sim"), a sim profile and a
// vendor override, both already validated.
absl::StatusOr<Negotiation> Against(const std::string& backend, const std::string& sim_profile,
                                    const std::string& cpu_vendor, const v1::HostInfo& host) {
  Negotiation n;
  std::string vendor;
  if (backend == "kvm") {
    n.host = &host.pmu();
    n.target.host = "kvm";
    vendor = host.cpu_vendor();
  } else {
    const std::string& name = sim_profile.empty() ? host.default_sim_profile() : sim_profile;
    for (const v1::SimProfile& p : host.sim_profiles()) {
      if (p.name() == name) {
        n.host = &p.pmu();
        vendor = p.vendor();
      }
    }
    if (n.host == nullptr) return rpc::InvalidField("sim_profile", absl::StrCat("unknown profile ", name));
    n.target.host = absl::StrCat("sim:", name);
  }
  if (!cpu_vendor.empty()) vendor = cpu_vendor;
  n.target.guest_vendor = cpu::ParseCpuVendor(vendor).value_or(cpu::CpuVendor::kIntel);
  // The kvm backend keeps the host's family and model whatever the vendor
  // string says; a sim guest is its profile's CPU.
  n.target.model_is_host = true;
  return n;
}

}  // namespace

absl::StatusOr<v1::PmuGrant> NegotiatePmu(const v1::NegotiatePmuRequest& request, const v1::HostInfo& host) {
  if (absl::Status s = pmu::ValidatePmuSpec(request.spec(), "spec"); !s.ok()) return s;
  if (!v1::Backend_IsValid(request.backend())) {
    return rpc::InvalidField("backend", absl::StrCat("unknown value ", request.backend()));
  }
  if (!request.cpu_vendor().empty() && !cpu::ParseCpuVendor(request.cpu_vendor())) {
    return rpc::InvalidField("cpu_vendor", "must be intel or amd");
  }
  v1::VmSpec as_vm;
  as_vm.set_backend(request.backend());
  const std::string backend = EffectiveBackend(as_vm, host);
  if (backend == "kvm" && !request.sim_profile().empty()) {
    return rpc::InvalidField("sim_profile", "applies only to backend sim or auto, not kvm");
  }
  absl::StatusOr<Negotiation> n = Against(backend, request.sim_profile(), request.cpu_vendor(), host);
  if (!n.ok()) return n.status();
  return pmu::NegotiatePmu(request.spec(), *n->host, n->target);
}

absl::StatusOr<std::optional<v1::PmuGrant>> GrantPmu(const v1::VmSpec& spec, const v1::HostInfo& host) {
  if (!spec.has_pmu()) return std::nullopt;
  absl::StatusOr<Negotiation> n = Against(EffectiveBackend(spec, host), spec.sim_profile(), spec.cpu_vendor(), host);
  if (!n.ok()) return n.status();
  v1::PmuGrant grant = pmu::NegotiatePmu(spec.pmu(), *n->host, n->target);
  if (absl::Status s = pmu::RefuseUnlessGranted(spec.pmu(), grant, spec.name()); !s.ok()) return s;
  return grant;
}

}  // namespace vmd::daemon

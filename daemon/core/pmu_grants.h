// PMU negotiation against this host's inventory: which HostPmu a VM's
// backend and profile mean, and who the guest is (backend/pmu does the
// negotiation itself).
#ifndef VMD_DAEMON_CORE_PMU_GRANTS_H_
#define VMD_DAEMON_CORE_PMU_GRANTS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/pmu.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

// What NegotiatePmu answers (a dry run; `request` validated here).
absl::StatusOr<v1::PmuGrant> NegotiatePmu(const v1::NegotiatePmuRequest& request, const v1::HostInfo& host);

// A VM's grant (nullopt without a PMU spec); FAILED_PRECONDITION listing
// every item when the spec is strict and the host cannot give it. `spec`
// is validated.
absl::StatusOr<std::optional<v1::PmuGrant>> GrantPmu(const v1::VmSpec& spec, const v1::HostInfo& host);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_PMU_GRANTS_H_

// A VM's MSR policy and counters (msr.proto's MsrService): a new policy is
// compiled exactly as the engine will, installed on a running engine first
// (if that fails nothing has changed), then committed -- through
// RunOperation like every mutation.
#ifndef VMD_DAEMON_CORE_MSR_OPERATIONS_H_
#define VMD_DAEMON_CORE_MSR_OPERATIONS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::daemon {

class MsrOperations {
 public:
  MsrOperations(VmRecords& records, EngineClients& clients, const v1::HostInfo& host)
      : records_(records), clients_(clients), host_(host) {}

  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(const v1::SetMsrPolicyRequest& request);
  // Unset: allow all, as KVM does.
  absl::StatusOr<v1::MsrPolicy> GetMsrPolicy(const std::string& name) const;
  // The running engine's counters of trapped MSR accesses.
  absl::StatusOr<v1::MsrStats> GetMsrStats(const std::string& name);

 private:
  VmRecords& records_;
  EngineClients& clients_;
  const v1::HostInfo& host_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_MSR_OPERATIONS_H_

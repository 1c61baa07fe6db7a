// Probe programs and guest micro-benchmarks (probe.proto's ProbeService),
// checked against the VM and forwarded to its engine under the VM's
// operation lock, like every other call that drives an engine.
#ifndef VMD_DAEMON_CORE_PROBE_OPERATIONS_H_
#define VMD_DAEMON_CORE_PROBE_OPERATIONS_H_

#include <string>

#include "absl/status/statusor.h"
#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::daemon {

class ProbeOperations {
 public:
  static constexpr uint32_t kMaxBenchIterations = 1000000;

  ProbeOperations(VmRecords& records, EngineClients& clients) : records_(records), clients_(clients) {}

  absl::StatusOr<v1::RunProbeResponse> RunProbe(const v1::RunProbeRequest& request);
  absl::StatusOr<v1::GuestBenchReport> RunGuestBench(const v1::RunGuestBenchRequest& request);

 private:
  // The VM if it is RUNNING with workload "probe".
  absl::StatusOr<v1::Vm> ProbeableVm(const std::string& name);

  VmRecords& records_;
  EngineClients& clients_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_PROBE_OPERATIONS_H_

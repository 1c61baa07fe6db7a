// vmd.v1.ProbeService: probe programs and guest micro-benchmarks, forwarded
// to the VM's engine after vmd has checked the VM and the request.
#ifndef VMD_DAEMON_API_PROBE_SERVICE_H_
#define VMD_DAEMON_API_PROBE_SERVICE_H_

#include "daemon/core/vm_manager.h"
#include "vmd/v1/probe.grpc.pb.h"

namespace vmd::daemon {

class ProbeServiceImpl final : public v1::ProbeService::Service {
 public:
  explicit ProbeServiceImpl(VmManager* manager) : manager_(manager) {}

  grpc::Status RunProbe(grpc::ServerContext*, const v1::RunProbeRequest* req, v1::RunProbeResponse* resp) override;
  grpc::Status RunGuestBench(grpc::ServerContext*, const v1::RunGuestBenchRequest* req,
                             v1::GuestBenchReport* resp) override;

 private:
  // The VM if it is RUNNING with workload "probe".
  absl::StatusOr<v1::Vm> ProbeableVm(const std::string& name);
  VmManager* const manager_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_PROBE_SERVICE_H_

// vmd.v1.ProbeService over ProbeOperations: probe programs and guest
// micro-benchmarks.
#ifndef VMD_DAEMON_API_PROBE_SERVICE_H_
#define VMD_DAEMON_API_PROBE_SERVICE_H_

#include "daemon/core/probe_operations.h"
#include "vmd/v1/probe.grpc.pb.h"

namespace vmd::daemon {

class ProbeServiceImpl final : public v1::ProbeService::Service {
 public:
  explicit ProbeServiceImpl(ProbeOperations& probes) : probes_(probes) {}

  grpc::Status RunProbe(grpc::ServerContext*, const v1::RunProbeRequest* req, v1::RunProbeResponse* resp) override;
  grpc::Status RunGuestBench(grpc::ServerContext*, const v1::RunGuestBenchRequest* req,
                             v1::GuestBenchReport* resp) override;

 private:
  ProbeOperations& probes_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_PROBE_SERVICE_H_

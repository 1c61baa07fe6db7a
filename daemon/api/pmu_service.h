// vmd.v1.PmuService: PMU negotiation as a dry run against this host.
#ifndef VMD_DAEMON_API_PMU_SERVICE_H_
#define VMD_DAEMON_API_PMU_SERVICE_H_

#include "vmd/v1/host.pb.h"
#include "vmd/v1/pmu.grpc.pb.h"

namespace vmd::daemon {

class PmuServiceImpl final : public v1::PmuService::Service {
 public:
  explicit PmuServiceImpl(const v1::HostInfo& host) : host_(host) {}
  grpc::Status NegotiatePmu(grpc::ServerContext*, const v1::NegotiatePmuRequest* req, v1::PmuGrant* resp) override;

 private:
  const v1::HostInfo& host_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_PMU_SERVICE_H_

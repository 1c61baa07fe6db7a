#include "daemon/api/pmu_service.h"

#include "daemon/api/answer.h"
#include "daemon/core/pmu_grants.h"

namespace vmd::daemon {

grpc::Status PmuServiceImpl::NegotiatePmu(grpc::ServerContext*, const v1::NegotiatePmuRequest* req,
                                          v1::PmuGrant* resp) {
  return Answer(daemon::NegotiatePmu(*req, host_), resp);
}

}  // namespace vmd::daemon

#include "daemon/api/msr_service.h"

#include "daemon/api/answer.h"

namespace vmd::daemon {

grpc::Status MsrServiceImpl::SetMsrPolicy(grpc::ServerContext*, const v1::SetMsrPolicyRequest* req,
                                          v1::SetMsrPolicyResponse* resp) {
  return Answer(msr_.SetMsrPolicy(*req), resp);
}

grpc::Status MsrServiceImpl::GetMsrPolicy(grpc::ServerContext*, const v1::GetMsrPolicyRequest* req,
                                          v1::MsrPolicy* resp) {
  return Answer(msr_.GetMsrPolicy(req->name()), resp);
}

grpc::Status MsrServiceImpl::GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest* req,
                                         v1::MsrStats* resp) {
  return Answer(msr_.GetMsrStats(req->name()), resp);
}

}  // namespace vmd::daemon

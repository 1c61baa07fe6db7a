// vmd.v1.MsrService over MsrOperations.
#ifndef VMD_DAEMON_API_MSR_SERVICE_H_
#define VMD_DAEMON_API_MSR_SERVICE_H_

#include "daemon/core/msr_operations.h"
#include "vmd/v1/msr.grpc.pb.h"

namespace vmd::daemon {

class MsrServiceImpl final : public v1::MsrService::Service {
 public:
  explicit MsrServiceImpl(MsrOperations& msr) : msr_(msr) {}
  grpc::Status SetMsrPolicy(grpc::ServerContext*, const v1::SetMsrPolicyRequest* req,
                            v1::SetMsrPolicyResponse* resp) override;
  grpc::Status GetMsrPolicy(grpc::ServerContext*, const v1::GetMsrPolicyRequest* req, v1::MsrPolicy* resp) override;
  grpc::Status GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest* req, v1::MsrStats* resp) override;

 private:
  MsrOperations& msr_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_MSR_SERVICE_H_

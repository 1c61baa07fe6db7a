// vmd.v1.MsrService over VmManager.
#ifndef VMD_DAEMON_API_MSR_SERVICE_H_
#define VMD_DAEMON_API_MSR_SERVICE_H_

#include "daemon/core/vm_manager.h"
#include "vmd/v1/msr.grpc.pb.h"

namespace vmd::daemon {

class MsrServiceImpl final : public v1::MsrService::Service {
 public:
  explicit MsrServiceImpl(VmManager* manager) : manager_(manager) {}
  grpc::Status SetMsrPolicy(grpc::ServerContext*, const v1::SetMsrPolicyRequest* req,
                            v1::SetMsrPolicyResponse* resp) override;
  grpc::Status GetMsrPolicy(grpc::ServerContext*, const v1::GetMsrPolicyRequest* req, v1::MsrPolicy* resp) override;
  grpc::Status GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest* req, v1::MsrStats* resp) override;

 private:
  VmManager* const manager_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_MSR_SERVICE_H_

// vmd.v1.HostService: what this host offers, as probed at start.
#ifndef VMD_DAEMON_API_HOST_SERVICE_H_
#define VMD_DAEMON_API_HOST_SERVICE_H_

#include "vmd/v1/host.grpc.pb.h"

namespace vmd::daemon {

class HostServiceImpl final : public v1::HostService::Service {
 public:
  explicit HostServiceImpl(v1::HostInfo host) : host_(std::move(host)) {}
  grpc::Status GetHostInfo(grpc::ServerContext*, const v1::GetHostInfoRequest*, v1::HostInfo* out) override {
    *out = host_;
    return grpc::Status::OK;
  }

 private:
  const v1::HostInfo host_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_HOST_SERVICE_H_

#include "daemon/api/probe_service.h"

#include "daemon/api/answer.h"

namespace vmd::daemon {

grpc::Status ProbeServiceImpl::RunProbe(grpc::ServerContext*, const v1::RunProbeRequest* req,
                                        v1::RunProbeResponse* resp) {
  return Answer(probes_.RunProbe(*req), resp);
}

grpc::Status ProbeServiceImpl::RunGuestBench(grpc::ServerContext*, const v1::RunGuestBenchRequest* req,
                                             v1::GuestBenchReport* resp) {
  return Answer(probes_.RunGuestBench(*req), resp);
}

}  // namespace vmd::daemon

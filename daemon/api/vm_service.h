// vmd.v1.VmService over VmLifecycle: maps absl::Status to gRPC codes and
// serves the two streams (events and console).
#ifndef VMD_DAEMON_API_VM_SERVICE_H_
#define VMD_DAEMON_API_VM_SERVICE_H_

#include "daemon/api/answer.h"
#include "daemon/api/stream_limits.h"
#include "daemon/api/stream_pump.h"
#include "daemon/core/vm_lifecycle.h"
#include "daemon/core/vm_records.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace vmd::daemon {

// Reads (GetVm, ListVms) never block, so they use the callback API and are
// answered inline on gRPC's own thread, with no hand-off to a sync worker;
// the streams use it too, served by one StreamPump instead of a thread each;
// lifecycle calls wait on engines and stay synchronous.
using VmServiceBase = v1::VmService::WithCallbackMethod_GetVm<v1::VmService::WithCallbackMethod_ListVms<
    v1::VmService::WithCallbackMethod_WatchEvents<v1::VmService::WithCallbackMethod_StreamConsole<
        v1::VmService::Service>>>>;

struct StreamOptions {
  size_t max_streams = 1024;
  size_t max_streams_per_client = 256;
  StreamPumpOptions pump;
};

class VmServiceImpl final : public VmServiceBase {
 public:
  VmServiceImpl(VmLifecycle& lifecycle, EventLog& events, const StreamOptions& streams = {})
      : lifecycle_(lifecycle),
        events_(events),
        limits_(streams.max_streams, streams.max_streams_per_client),
        pump_(streams.pump) {}

  grpc::ServerUnaryReactor* GetVm(grpc::CallbackServerContext* ctx, const v1::GetVmRequest* req,
                                  v1::Vm* resp) override;
  grpc::ServerUnaryReactor* ListVms(grpc::CallbackServerContext* ctx, const v1::ListVmsRequest* req,
                                    v1::ListVmsResponse* resp) override;
  grpc::Status CreateVm(grpc::ServerContext*, const v1::CreateVmRequest* req, v1::Vm* resp) override;
  grpc::Status StartVm(grpc::ServerContext*, const v1::StartVmRequest* req, v1::Vm* resp) override;
  grpc::Status PauseVm(grpc::ServerContext*, const v1::PauseVmRequest* req, v1::Vm* resp) override;
  grpc::Status ResumeVm(grpc::ServerContext*, const v1::ResumeVmRequest* req, v1::Vm* resp) override;
  grpc::Status StopVm(grpc::ServerContext*, const v1::StopVmRequest* req, v1::Vm* resp) override;
  grpc::Status DeleteVm(grpc::ServerContext*, const v1::DeleteVmRequest* req, v1::DeleteVmResponse* resp) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(grpc::CallbackServerContext* ctx,
                                                   const v1::WatchEventsRequest* req) override;
  grpc::ServerWriteReactor<v1::ConsoleChunk>* StreamConsole(grpc::CallbackServerContext* ctx,
                                                            const v1::StreamConsoleRequest* req) override;

  // Ends every open stream (and any opened later) with UNAVAILABLE at once.
  // Called before grpc::Server::Shutdown, which otherwise waits for streams
  // that never end by themselves until its deadline.
  void EndStreams();

 private:
  VmLifecycle& lifecycle_;
  EventLog& events_;
  StreamLimits limits_;
  StreamPump pump_;  // after limits_: its streams hold slots
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_VM_SERVICE_H_

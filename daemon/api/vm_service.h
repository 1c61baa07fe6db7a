// vmd.v1.VmService over VmLifecycle: maps absl::Status to gRPC codes and
// serves the two streams (events and console).
#ifndef VMD_DAEMON_API_VM_SERVICE_H_
#define VMD_DAEMON_API_VM_SERVICE_H_

#include <atomic>

#include "daemon/api/answer.h"
#include "daemon/core/vm_lifecycle.h"
#include "daemon/core/vm_records.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace vmd::daemon {

// Reads (GetVm, ListVms) never block, so they use the callback API and are
// answered inline on gRPC's own thread, with no hand-off to a sync worker;
// lifecycle calls wait on engines and stay synchronous.
using VmServiceBase =
    v1::VmService::WithCallbackMethod_GetVm<v1::VmService::WithCallbackMethod_ListVms<v1::VmService::Service>>;

class VmServiceImpl final : public VmServiceBase {
 public:
  VmServiceImpl(VmLifecycle& lifecycle, EventLog& events) : lifecycle_(lifecycle), events_(events) {}

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
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status StreamConsole(grpc::ServerContext* ctx, const v1::StreamConsoleRequest* req,
                             grpc::ServerWriter<v1::ConsoleChunk>* writer) override;

  // Ends every open stream (and any opened later) with UNAVAILABLE, at once
  // for WatchEvents and within a poll tick for StreamConsole. Called before
  // grpc::Server::Shutdown, which otherwise waits for streams that never end
  // by themselves until its deadline.
  void EndStreams();

 private:
  bool Ending(grpc::ServerContext* ctx) const { return ending_.load() || ctx->IsCancelled(); }

  VmLifecycle& lifecycle_;
  EventLog& events_;
  std::atomic<bool> ending_{false};
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_VM_SERVICE_H_

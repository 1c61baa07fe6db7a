#include "daemon/api/vm_service.h"

#include "backend/rpc/error_details.h"
#include "daemon/api/console_stream.h"
#include "daemon/api/event_stream.h"
#include "daemon/core/validation.h"

namespace vmd::daemon {
namespace {

grpc::Status ShuttingDown() {
  return ToGrpcStatus(rpc::WithErrorInfo(absl::UnavailableError("vmd is shutting down; reconnect"),
                                         rpc::reason::kShuttingDown));
}

}  // namespace

void VmServiceImpl::EndStreams() {
  // Let the ends go out before gRPC's Shutdown begins, so that they are not
  // cut short by it.
  pump_.EndAll(ShuttingDown(), std::chrono::milliseconds(500));
}

grpc::Status VmServiceImpl::CreateVm(grpc::ServerContext*, const v1::CreateVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.CreateVm(*req), resp);
}
grpc::ServerUnaryReactor* VmServiceImpl::GetVm(grpc::CallbackServerContext* ctx, const v1::GetVmRequest* req,
                                                v1::Vm* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(Answer(lifecycle_.GetVm(req->name()), resp));
  return reactor;
}
grpc::ServerUnaryReactor* VmServiceImpl::ListVms(grpc::CallbackServerContext* ctx, const v1::ListVmsRequest* req,
                                                  v1::ListVmsResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(Answer(lifecycle_.ListVms(*req), resp));
  return reactor;
}
grpc::Status VmServiceImpl::StartVm(grpc::ServerContext*, const v1::StartVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.StartVm(*req), resp);
}
grpc::Status VmServiceImpl::PauseVm(grpc::ServerContext*, const v1::PauseVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.PauseVm(*req), resp);
}
grpc::Status VmServiceImpl::ResumeVm(grpc::ServerContext*, const v1::ResumeVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.ResumeVm(*req), resp);
}
grpc::Status VmServiceImpl::StopVm(grpc::ServerContext*, const v1::StopVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.StopVm(*req), resp);
}
grpc::Status VmServiceImpl::DeleteVm(grpc::ServerContext*, const v1::DeleteVmRequest* req,
                                     v1::DeleteVmResponse* resp) {
  return Answer(lifecycle_.DeleteVm(*req), resp);
}

grpc::ServerWriteReactor<v1::Event>* VmServiceImpl::WatchEvents(grpc::CallbackServerContext* ctx,
                                                                const v1::WatchEventsRequest* req) {
  if (!req->vm_name().empty()) {
    if (absl::Status s = ValidateName("vm_name", req->vm_name()); !s.ok()) {
      return RefusedStream<v1::Event>(ToGrpcStatus(s));
    }
  }
  absl::StatusOr<StreamLimits::Slot> slot = limits_.Acquire(ctx->peer());
  if (!slot.ok()) return RefusedStream<v1::Event>(ToGrpcStatus(slot.status()));
  return StreamWriter<v1::Event>::Open<EventStream>(ctx, pump_, *std::move(slot), events_, req->after_sequence(),
                                                    req->vm_name());
}

grpc::ServerWriteReactor<v1::ConsoleChunk>* VmServiceImpl::StreamConsole(grpc::CallbackServerContext* ctx,
                                                                         const v1::StreamConsoleRequest* req) {
  absl::StatusOr<v1::Vm> vm = lifecycle_.GetVm(req->name());
  if (!vm.ok()) return RefusedStream<v1::ConsoleChunk>(ToGrpcStatus(vm.status()));
  absl::StatusOr<StreamLimits::Slot> slot = limits_.Acquire(ctx->peer());
  if (!slot.ok()) return RefusedStream<v1::ConsoleChunk>(ToGrpcStatus(slot.status()));
  return StreamWriter<v1::ConsoleChunk>::Open<ConsoleStream>(ctx, pump_, *std::move(slot), lifecycle_, req->name(),
                                                             lifecycle_.ConsolePath(*vm), req->offset(),
                                                             req->follow());
}

}  // namespace vmd::daemon

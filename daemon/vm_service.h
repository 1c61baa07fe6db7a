// vmd.v1.VmService over VmManager: maps absl::Status to gRPC codes and
// serves the two streams (events and console).
#ifndef VMD_DAEMON_VM_SERVICE_H_
#define VMD_DAEMON_VM_SERVICE_H_

#include "daemon/vm_manager.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace vmd::daemon {

class VmServiceImpl final : public v1::VmService::Service {
 public:
  explicit VmServiceImpl(VmManager* manager) : manager_(manager) {}

  grpc::Status CreateVm(grpc::ServerContext*, const v1::CreateVmRequest* req, v1::Vm* resp) override;
  grpc::Status GetVm(grpc::ServerContext*, const v1::GetVmRequest* req, v1::Vm* resp) override;
  grpc::Status ListVms(grpc::ServerContext*, const v1::ListVmsRequest* req, v1::ListVmsResponse* resp) override;
  grpc::Status StartVm(grpc::ServerContext*, const v1::StartVmRequest* req, v1::Vm* resp) override;
  grpc::Status PauseVm(grpc::ServerContext*, const v1::PauseVmRequest* req, v1::Vm* resp) override;
  grpc::Status ResumeVm(grpc::ServerContext*, const v1::ResumeVmRequest* req, v1::Vm* resp) override;
  grpc::Status StopVm(grpc::ServerContext*, const v1::StopVmRequest* req, v1::Vm* resp) override;
  grpc::Status DeleteVm(grpc::ServerContext*, const v1::DeleteVmRequest* req, v1::DeleteVmResponse* resp) override;
  grpc::Status WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                           grpc::ServerWriter<v1::Event>* writer) override;
  grpc::Status StreamConsole(grpc::ServerContext* ctx, const v1::StreamConsoleRequest* req,
                             grpc::ServerWriter<v1::ConsoleChunk>* writer) override;

 private:
  VmManager* const manager_;
};

grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_VM_SERVICE_H_

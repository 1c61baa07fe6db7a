#include "daemon/api/msr_service.h"

#include "daemon/api/vm_service.h"

namespace vmd::daemon {

grpc::Status MsrServiceImpl::SetMsrPolicy(grpc::ServerContext*, const v1::SetMsrPolicyRequest* req,
                                          v1::SetMsrPolicyResponse* resp) {
  auto r = manager_->SetMsrPolicy(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status MsrServiceImpl::GetMsrPolicy(grpc::ServerContext*, const v1::GetMsrPolicyRequest* req,
                                          v1::MsrPolicy* resp) {
  auto vm = manager_->GetVm(req->name());
  if (!vm.ok()) return ToGrpcStatus(vm.status());
  *resp = vm->spec().msr_policy();  // unset: allow all, as KVM does
  return grpc::Status::OK;
}

grpc::Status MsrServiceImpl::GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest* req,
                                         v1::MsrStats* resp) {
  auto r = manager_->GetMsrStats(req->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

}  // namespace vmd::daemon

// The engine's internal gRPC API (vmd.engine.v1.Engine), served on the VM's
// runtime socket for vmd.
#ifndef VMD_BACKEND_ENGINE_ENGINE_SERVICE_H_
#define VMD_BACKEND_ENGINE_ENGINE_SERVICE_H_

#include <string>

#include "backend/engine/vm_runner.h"
#include "vmd/engine/v1/engine.grpc.pb.h"

namespace vmd::engine {

class EngineService final : public vmd::engine::v1::Engine::Service {
 public:
  EngineService(std::string vm_id, VmRunner* runner) : vm_id_(std::move(vm_id)), runner_(runner) {}

  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::EngineStatus* out) override;
  grpc::Status Pause(grpc::ServerContext*, const v1::PauseRequest*, v1::EngineStatus* out) override;
  grpc::Status Resume(grpc::ServerContext*, const v1::ResumeRequest*, v1::EngineStatus* out) override;
  grpc::Status Stop(grpc::ServerContext*, const v1::StopRequest* req, v1::StopResponse* out) override;
  grpc::Status RunProbe(grpc::ServerContext*, const vmd::v1::RunProbeRequest* req,
                        vmd::v1::RunProbeResponse* out) override;
  // backend/bench: guest micro-benchmarks (kvm only).
  grpc::Status RunGuestBench(grpc::ServerContext*, const vmd::v1::RunGuestBenchRequest* req,
                             vmd::v1::GuestBenchReport* out) override;
  grpc::Status SetMsrPolicy(grpc::ServerContext*, const vmd::v1::MsrPolicy* req,
                            vmd::v1::SetMsrPolicyResponse* out) override;
  grpc::Status GetMsrStats(grpc::ServerContext*, const v1::GetMsrStatsRequest*, vmd::v1::MsrStats* out) override;
  grpc::Status TakeMsrDenials(grpc::ServerContext*, const v1::TakeMsrDenialsRequest*, v1::MsrDenials* out) override;
  grpc::Status SaveState(grpc::ServerContext*, const v1::SaveStateRequest* req, v1::SaveStateResponse* out) override;

 private:
  void FillStatus(v1::EngineStatus* out);
  const std::string vm_id_;
  VmRunner* const runner_;
};


}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_ENGINE_SERVICE_H_

// gRPC server reflection v1 (grpc.reflection.v1.ServerReflection), which
// Debian 12's gRPC 1.51 reflection library lacks: it serves only v1alpha.
// The same answers from the same descriptor pool (the generated one), so a
// client that speaks only v1 (newer grpcurl, grpcui, Postman) works too.
#ifndef VMD_DAEMON_API_REFLECTION_V1_SERVICE_H_
#define VMD_DAEMON_API_REFLECTION_V1_SERVICE_H_

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"

namespace vmd::daemon {

class ReflectionV1Service final : public grpc::reflection::v1::ServerReflection::Service {
 public:
  // `services`: the fully qualified names of the services the server serves,
  // as ListServices answers them.
  explicit ReflectionV1Service(std::vector<std::string> services,
                               const google::protobuf::DescriptorPool* pool =
                                   google::protobuf::DescriptorPool::generated_pool())
      : services_(std::move(services)), pool_(pool) {}

  grpc::Status ServerReflectionInfo(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<grpc::reflection::v1::ServerReflectionResponse,
                               grpc::reflection::v1::ServerReflectionRequest>* stream) override;

  // The answer to one request.
  grpc::reflection::v1::ServerReflectionResponse Answer(
      const grpc::reflection::v1::ServerReflectionRequest& request) const;

 private:
  const std::vector<std::string> services_;
  const google::protobuf::DescriptorPool* const pool_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_REFLECTION_V1_SERVICE_H_

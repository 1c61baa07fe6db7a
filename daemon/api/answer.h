// The API edge: an operation's absl result becomes the gRPC reply, with the
// canonical code and the message that names the field and the rule.
#ifndef VMD_DAEMON_API_ANSWER_H_
#define VMD_DAEMON_API_ANSWER_H_

#include "absl/status/statusor.h"
#include "backend/rpc/grpc_status.h"
#include "grpcpp/grpcpp.h"

namespace vmd::daemon {

using rpc::ToGrpcStatus;

template <typename T>
grpc::Status Answer(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_ANSWER_H_

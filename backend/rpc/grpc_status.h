// Conversions between grpc::Status and absl::Status. The two share the
// canonical code numbering, so a status crosses the boundary with the same
// code and message in either direction.
#ifndef VMD_BACKEND_RPC_GRPC_STATUS_H_
#define VMD_BACKEND_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace vmd::rpc {

absl::Status ToAbslStatus(const grpc::Status& status);
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vmd::rpc

#endif  // VMD_BACKEND_RPC_GRPC_STATUS_H_

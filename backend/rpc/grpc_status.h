// Conversions between grpc::Status and absl::Status, the one place where
// errors cross the gRPC boundary. The two share the canonical code
// numbering, so a status crosses with the same code and message in either
// direction; its typed details (error_details.h: absl payloads keyed by
// type URL) travel as a google.rpc.Status in the binary error details
// (grpc-status-details-bin).
#ifndef VMD_BACKEND_RPC_GRPC_STATUS_H_
#define VMD_BACKEND_RPC_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace vmd::rpc {

// The details of `status` (a google.rpc.Status) become payloads.
absl::Status ToAbslStatus(const grpc::Status& status);
// The payloads become the details; an error without an ErrorInfo gets one
// whose reason is its code's name (every error carries one).
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace vmd::rpc

#endif  // VMD_BACKEND_RPC_GRPC_STATUS_H_

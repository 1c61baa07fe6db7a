// Typed error details on absl::Status, after google.rpc's error model
// (proto/google/rpc/error_details.proto): each detail is a payload keyed by
// its type URL, set where the error is made; ToGrpcStatus (grpc_status.h)
// sends them to clients in grpc-status-details-bin. The message stays the
// text for people; the details say the same for programs.
#ifndef VMD_BACKEND_RPC_ERROR_DETAILS_H_
#define VMD_BACKEND_RPC_ERROR_DETAILS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/rpc/error_details.pb.h"

namespace vmd::rpc {

// ErrorInfo.domain of every vmd error.
inline constexpr absl::string_view kErrorDomain = "vmd.dev";

// ErrorInfo.reason values: stable, UPPER_SNAKE_CASE (README "API
// conventions" lists them). An error made without one gets its code's name
// (INTERNAL, UNAVAILABLE, ...) at the API edge.
namespace reason {
inline constexpr absl::string_view kInvalidField = "INVALID_FIELD";
inline constexpr absl::string_view kRequestIdReused = "REQUEST_ID_REUSED";
inline constexpr absl::string_view kVmNotFound = "VM_NOT_FOUND";
inline constexpr absl::string_view kVmAlreadyExists = "VM_ALREADY_EXISTS";
inline constexpr absl::string_view kVmState = "VM_STATE";
inline constexpr absl::string_view kWorkload = "WORKLOAD";
inline constexpr absl::string_view kBackendUnusable = "BACKEND_UNUSABLE";
inline constexpr absl::string_view kEventsNotRetained = "EVENTS_NOT_RETAINED";
inline constexpr absl::string_view kShuttingDown = "SHUTTING_DOWN";
inline constexpr absl::string_view kStreamLimit = "STREAM_LIMIT";
inline constexpr absl::string_view kStreamStalled = "STREAM_STALLED";
}  // namespace reason

// "type.googleapis.com/<full name>", the key of a detail's payload.
std::string TypeUrl(const google::protobuf::Descriptor& descriptor);

// Attaches `detail` (replacing one of the same type).
void SetDetail(absl::Status& status, const google::protobuf::Message& detail);

// The detail of type T the status carries, if any.
template <typename T>
std::optional<T> GetDetail(const absl::Status& status) {
  auto payload = status.GetPayload(TypeUrl(*T::descriptor()));  // an absl::optional
  T detail;
  if (!payload || !detail.ParseFromString(std::string(*payload))) return std::nullopt;
  return detail;
}

// `status` with an ErrorInfo of `reason` in vmd's domain.
absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata = {});

// INVALID_ARGUMENT "field: rule", with a BadRequest violation {field, rule}
// and ErrorInfo `reason`.
absl::Status InvalidField(absl::string_view field, absl::string_view rule,
                          absl::string_view reason = reason::kInvalidField);

// FAILED_PRECONDITION `message`, with a PreconditionFailure violation
// {type, subject, description = message} and ErrorInfo `reason`.
absl::Status PreconditionFailed(absl::string_view reason, absl::string_view type, absl::string_view subject,
                                absl::string_view message, const std::map<std::string, std::string>& metadata = {});

// The same code and details with another message.
absl::Status WithMessage(const absl::Status& status, absl::string_view message);

// The same error about a nested message: "prefix." before the message and
// before each BadRequest violation's field ("policy" + "rules[0].count").
absl::Status WithFieldPrefix(const absl::Status& status, absl::string_view prefix);

}  // namespace vmd::rpc

#endif  // VMD_BACKEND_RPC_ERROR_DETAILS_H_

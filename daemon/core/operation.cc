#include "daemon/core/operation.h"

namespace vmd::daemon {

absl::Status VmNotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("vm \"", name, "\" not found"));
}

std::optional<RequestRecord> PendingRequest(const OperationRequest& request) {
  if (request.request_id.empty()) return std::nullopt;
  return RequestRecord{request.request_id, request.method, request.name, "", /*pending=*/true};
}

}  // namespace vmd::daemon

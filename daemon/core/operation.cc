#include "daemon/core/operation.h"

#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"

namespace vmd::daemon {

absl::Status VmNotFound(const std::string& name) {
  return rpc::WithErrorInfo(absl::NotFoundError(absl::StrCat("vm ", rpc::QuotedInput(name), " not found")),
                            rpc::reason::kVmNotFound, {{"vm", name}});
}

absl::Status VmAlreadyExists(const std::string& name) {
  return rpc::WithErrorInfo(
      absl::AlreadyExistsError(absl::StrCat("spec.name: vm ", rpc::QuotedInput(name), " already exists")),
      rpc::reason::kVmAlreadyExists, {{"vm", name}});
}

RequestRecord AnsweredRequest(const OperationRequest& request, std::string response) {
  return RequestRecord{request.request_id, request.method, request.name, std::move(response), /*pending=*/false,
                       RequestFingerprint(*request.message)};
}

std::optional<RequestRecord> PendingRequest(const OperationRequest& request) {
  if (request.request_id.empty()) return std::nullopt;
  RequestRecord record = AnsweredRequest(request, "");
  record.pending = true;
  return record;
}

}  // namespace vmd::daemon

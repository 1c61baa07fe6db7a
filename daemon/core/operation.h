// The one way every mutating call on a VM runs: validate the name and the
// request_id, take the VM's operation lock, replay a request_id answered
// before (refusing one used for another request: AIP-155), find the VM (or,
// for a create, make sure there is none), check the state machine, let the
// operation act, then commit what it did together with its answer and the
// request's fingerprint under the request_id, and reply. Operations on one
// VM are serialized; a retry with the same request_id does nothing twice.
#ifndef VMD_DAEMON_CORE_OPERATION_H_
#define VMD_DAEMON_CORE_OPERATION_H_

#include <functional>
#include <optional>
#include <string>
#include <type_traits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "daemon/core/request_fingerprint.h"
#include "daemon/core/validation.h"
#include "daemon/core/vm_records.h"
#include "daemon/core/vm_state_machine.h"

namespace vmd::daemon {

struct OperationRequest {
  const char* method;  // "StartVm": a request_id belongs to one method
  std::string name;    // the VM's
  std::string request_id;
  // The request as the client sent it (never null): a request_id belongs to
  // one request, and a retry must send the same (RequestFingerprint).
  const google::protobuf::Message* message = nullptr;
  // The state machine's check, when the operation changes the lifecycle.
  std::optional<VmOp> op;
  // CreateVm: the VM must not exist yet, and act gets none.
  bool creates = false;
  // For an operation that records its request as pending before it
  // finishes (StartVm, StopVm: their first commit carries
  // PendingRequest()): whether the VM shows that it took effect. A retry
  // of an interrupted request (vmd died in between) then answers with the
  // VM as it is, instead of refusing a transition that already happened.
  std::function<bool(const v1::Vm&)> done_when;
};

// The request record an operation's first commit carries to say it has
// begun (OperationRequest::done_when); empty without a request_id.
std::optional<RequestRecord> PendingRequest(const OperationRequest& request);

// What an operation did: the final change to commit, and the answer.
template <typename Reply>
struct Outcome {
  Mutation mutation;
  Reply reply;
};

absl::Status VmNotFound(const std::string& name);
absl::Status VmAlreadyExists(const std::string& name);
// The record of `request` under its request_id, with its answer.
RequestRecord AnsweredRequest(const OperationRequest& request, std::string response);

// `act` gets the VM's current record (nullptr for a create) and may commit
// intermediate changes itself (a STARTING before the engine is up); its
// Outcome is committed with the answer. A failed act commits nothing more.
template <typename Reply>
absl::StatusOr<Reply> RunOperation(VmRecords& records, const OperationRequest& request,
                                   const std::function<absl::StatusOr<Outcome<Reply>>(const v1::Vm* vm)>& act) {
  const std::string field = request.creates ? "spec.name" : "name";
  if (absl::Status s = ValidateName(field, request.name); !s.ok()) return s;
  if (absl::Status s = ValidateRequestId(request.request_id); !s.ok()) return s;
  VmRegistry::OpLock lock = records.Lock(request.name);
  absl::StatusOr<std::optional<RequestRecord>> replay =
      records.Replay(request.request_id, request.method, request.name, RequestFingerprint(*request.message));
  if (!replay.ok()) return replay.status();
  Reply reply;
  if (*replay && !(*replay)->pending && reply.ParseFromString((*replay)->response)) return reply;

  std::optional<v1::Vm> current = records.Get(request.name);
  if (*replay && (*replay)->pending && current && request.done_when && request.done_when(*current)) {
    // Interrupted after it took effect: the VM is the answer.
    if constexpr (std::is_same_v<Reply, v1::Vm>) {
      Mutation answer;
      answer.request = AnsweredRequest(request, current->SerializeAsString());
      if (absl::Status s = records.Commit(answer); !s.ok()) return s;
      return *current;
    }
  }
  if (request.creates && current) return VmAlreadyExists(request.name);
  if (!request.creates && !current) return VmNotFound(request.name);
  if (current && request.op) {
    if (absl::Status s = CheckOperation(request.name, current->status().state(), *request.op); !s.ok()) return s;
  }
  absl::StatusOr<Outcome<Reply>> outcome = act(current ? &*current : nullptr);
  if (!outcome.ok()) return outcome.status();
  if (!request.request_id.empty()) {
    outcome->mutation.request = AnsweredRequest(request, outcome->reply.SerializeAsString());
  }
  if (absl::Status s = records.Commit(outcome->mutation); !s.ok()) return s;
  return std::move(outcome->reply);
}

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_OPERATION_H_

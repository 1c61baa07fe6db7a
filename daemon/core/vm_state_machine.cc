#include "daemon/core/vm_state_machine.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"

namespace vmd::daemon {
namespace {

using v1::VmState;

std::vector<VmState> LegalFrom(VmOp op) {
  switch (op) {
    case VmOp::kStart:
    case VmOp::kDelete:
      return {v1::VM_STATE_CREATED, v1::VM_STATE_STOPPED, v1::VM_STATE_CRASHED};
    case VmOp::kPause: return {v1::VM_STATE_RUNNING};
    case VmOp::kResume: return {v1::VM_STATE_PAUSED};
    case VmOp::kStop: return {v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED};
  }
  return {};
}

}  // namespace

const char* VmOpName(VmOp op) {
  switch (op) {
    case VmOp::kStart: return "start";
    case VmOp::kPause: return "pause";
    case VmOp::kResume: return "resume";
    case VmOp::kStop: return "stop";
    case VmOp::kDelete: return "delete";
  }
  return "unknown";
}

std::string StateName(VmState state) {
  std::string name = v1::VmState_Name(state);
  constexpr absl::string_view kPrefix = "VM_STATE_";
  if (absl::StartsWith(name, kPrefix)) name = name.substr(kPrefix.size());
  return absl::AsciiStrToLower(name);
}

absl::Status VmStateError(const std::string& vm_name, VmState state, const std::string& need) {
  return rpc::PreconditionFailed(
      rpc::reason::kVmState, "STATE", absl::StrCat("vms/", vm_name),
      absl::StrCat("vm ", rpc::QuotedInput(vm_name), " is ", StateName(state), "; ", need),
      {{"vm", vm_name}, {"state", v1::VmState_Name(state)}});
}

absl::Status CheckOperation(const std::string& vm_name, VmState state, VmOp op) {
  const std::vector<VmState> legal = LegalFrom(op);
  if (std::find(legal.begin(), legal.end(), state) != legal.end()) return absl::OkStatus();
  std::vector<std::string> names;
  for (VmState s : legal) names.push_back(StateName(s));
  return VmStateError(vm_name, state,
                      absl::StrCat(VmOpName(op), " needs state ", absl::StrJoin(names, " or ")));
}

bool HasEngine(VmState state) {
  return state == v1::VM_STATE_STARTING || state == v1::VM_STATE_RUNNING || state == v1::VM_STATE_PAUSED ||
         state == v1::VM_STATE_STOPPING;
}

}  // namespace vmd::daemon

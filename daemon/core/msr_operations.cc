#include "daemon/core/msr_operations.h"

#include "absl/strings/str_cat.h"
#include "daemon/core/clock.h"
#include "daemon/core/msr_policy.h"
#include "daemon/core/operation.h"
#include "daemon/core/validation.h"
#include "daemon/engine/engine_launcher.h"

namespace vmd::daemon {
namespace {

bool HasRunningEngine(const v1::Vm& vm) {
  return vm.status().state() == v1::VM_STATE_RUNNING || vm.status().state() == v1::VM_STATE_PAUSED;
}

}  // namespace

absl::StatusOr<v1::SetMsrPolicyResponse> MsrOperations::SetMsrPolicy(const v1::SetMsrPolicyRequest& request) {
  return RunOperation<v1::SetMsrPolicyResponse>(
      records_,
      {.method = "SetMsrPolicy", .name = request.name(), .request_id = request.request_id(), .message = &request},
      [&](const v1::Vm* vm) -> absl::StatusOr<Outcome<v1::SetMsrPolicyResponse>> {
        absl::StatusOr<v1::MsrPolicy> policy = ResolveMsrPolicy(request, vm->spec(), host_);
        if (!policy.ok()) return policy.status();
        absl::StatusOr<msr::CompiledMsrPolicy> compiled = CompileForVm(*policy, vm->spec(), "policy");
        if (!compiled.ok()) return compiled.status();
        Outcome<v1::SetMsrPolicyResponse> outcome;
        *outcome.reply.mutable_policy() = *policy;
        *outcome.reply.mutable_filter() = compiled->Summary();
        for (const std::string& w : compiled->warnings) outcome.reply.add_warnings(w);
        if (HasRunningEngine(*vm)) {
          // The engine installs it first: if that fails, nothing has changed.
          auto applied = clients_.For(*vm)->SetMsrPolicy(*policy, kEngineCallDeadline);
          if (!applied.ok()) return applied.status();
        }
        v1::Vm next = *vm;
        *next.mutable_spec()->mutable_msr_policy() = *policy;
        outcome.mutation.put.push_back(next);
        outcome.mutation.events.push_back(MakeVmEvent(
            *vm, v1::EVENT_TYPE_MSR_POLICY_CHANGED, vm->status().state(),
            policy->preset().empty() ? absl::StrCat("msr policy: ", policy->rules_size(), " rule(s)")
                                     : absl::StrCat("msr policy: preset ", policy->preset()),
            NowTimestamp()));
        return outcome;
      });
}

absl::StatusOr<v1::MsrPolicy> MsrOperations::GetMsrPolicy(const std::string& name) const {
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  std::optional<v1::Vm> vm = records_.Get(name);
  if (!vm) return VmNotFound(name);
  return vm->spec().msr_policy();
}

absl::StatusOr<v1::MsrStats> MsrOperations::GetMsrStats(const std::string& name) {
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  std::optional<v1::Vm> vm = records_.Get(name);
  if (!vm) return VmNotFound(name);
  if (!HasRunningEngine(*vm)) {
    return VmStateError(name, vm->status().state(), "MSR counters exist while it runs");
  }
  return clients_.For(*vm)->GetMsrStats(kEngineCallDeadline);
}

}  // namespace vmd::daemon

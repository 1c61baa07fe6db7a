#include "backend/msr_policy_runtime.h"

#include "absl/time/clock.h"

namespace vmd::engine {

absl::StatusOr<MsrPolicyRuntime::Prepared> MsrPolicyRuntime::Prepare(const vmd::v1::MsrPolicy& policy) const {
  absl::StatusOr<msr::CompiledMsrPolicy> compiled = msr::CompileMsrPolicy(policy, topology_);
  if (!compiled.ok()) return compiled.status();
  absl::StatusOr<std::unique_ptr<msr::MsrHandlers>> handlers = msr::MsrHandlers::Create(compiled->handlers, topology_);
  if (!handlers.ok()) return handlers.status();
  if (std::shared_ptr<const Active> current = active()) (*handlers)->CarryOverFrom(*current->handlers);
  return Prepared{policy, std::make_shared<const msr::CompiledMsrPolicy>(*std::move(compiled)),
                  std::shared_ptr<msr::MsrHandlers>(*std::move(handlers))};
}

void MsrPolicyRuntime::Install(Prepared prepared) {
  auto next = std::make_shared<const Active>(
      Active{std::move(prepared.policy), std::move(prepared.compiled), std::move(prepared.handlers)});
  std::lock_guard lock(mu_);
  active_ = std::move(next);
}

std::shared_ptr<const MsrPolicyRuntime::Active> MsrPolicyRuntime::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

vmd::v1::MsrPolicy MsrPolicyRuntime::policy() const {
  std::shared_ptr<const Active> a = active();
  return a ? a->policy : vmd::v1::MsrPolicy();
}

msr::MsrAccessResult MsrPolicyRuntime::Handle(uint32_t index, bool write, uint64_t value) {
  std::shared_ptr<const Active> a = active();
  msr::MsrDecision decision = a ? a->compiled->Decide(index, write) : msr::MsrDecision::Unhandled();
  switch (decision.kind) {
    case msr::MsrDecisionKind::kEmulate: {
      stats_.Record(index, write, vmd::v1::MSR_OUTCOME_EMULATED);
      return write ? a->handlers->Write(decision.handler, value) : a->handlers->Read(decision.handler);
    }
    case msr::MsrDecisionKind::kDeny:
      stats_.Record(index, write, vmd::v1::MSR_OUTCOME_DENIED);
      if (a->compiled->log_denials && stats_.AdmitDenialEvent()) {
        engine::v1::MsrDenial d;
        d.set_index(index);
        d.set_write(write);
        d.set_unix_nanos(absl::ToUnixNanos(absl::Now()));
        std::lock_guard lock(mu_);
        if (denials_.size() == kMaxQueuedDenials) denials_.pop_front();
        denials_.push_back(d);
      }
      return msr::MsrAccessResult::Gp();
    case msr::MsrDecisionKind::kUnhandled:
      break;
  }
  // Trapped, but nothing in the policy answers it (e.g. an unknown MSR with
  // no handler): #GP, as KVM would have given.
  stats_.Record(index, write, vmd::v1::MSR_OUTCOME_UNHANDLED);
  return msr::MsrAccessResult::Gp();
}

std::vector<engine::v1::MsrDenial> MsrPolicyRuntime::TakeDenials() {
  std::lock_guard lock(mu_);
  std::vector<engine::v1::MsrDenial> out(denials_.begin(), denials_.end());
  denials_.clear();
  return out;
}

}  // namespace vmd::engine

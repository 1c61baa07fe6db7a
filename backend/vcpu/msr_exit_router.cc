#include "backend/vcpu/msr_exit_router.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace vmd::engine {

std::shared_ptr<const MsrExitRouter::Active> MsrExitRouter::active() const {
  std::lock_guard lock(mu_);
  return active_;
}

absl::StatusOr<std::shared_ptr<const MsrExitRouter::Active>> MsrExitRouter::InstallLocked(
    const vmd::v1::MsrPolicy& policy, const std::vector<ClaimEntry>& claims) {
  std::vector<msr::MsrClaim> ranges;
  std::vector<MsrClaimHandler*> claim_handlers;
  for (const ClaimEntry& c : claims) {
    for (const msr::MsrClaim& r : c.ranges) {
      ranges.push_back(r);
      claim_handlers.push_back(c.handler);
    }
  }
  absl::StatusOr<msr::CompiledMsrPolicy> compiled = msr::CompileMsrPolicy(policy, topology_, ranges);
  if (!compiled.ok()) return compiled.status();
  absl::StatusOr<std::unique_ptr<msr::MsrHandlers>> handlers = msr::MsrHandlers::Create(compiled->handlers, topology_);
  if (!handlers.ok()) return handlers.status();
  std::shared_ptr<const Active> current = active();
  if (current != nullptr) (*handlers)->CarryOverFrom(*current->handlers);
  auto next = std::make_shared<const Active>(
      Active{policy, std::make_shared<const msr::CompiledMsrPolicy>(*std::move(compiled)),
             std::shared_ptr<msr::MsrHandlers>(*std::move(handlers)), std::move(claim_handlers)});
  absl::Status s = install_(next->compiled->filter, [&] {
    std::lock_guard lock(mu_);
    active_ = next;
  });
  if (!s.ok()) return s;
  return next;
}

absl::StatusOr<vmd::v1::SetMsrPolicyResponse> MsrExitRouter::SetPolicy(const vmd::v1::MsrPolicy& policy) {
  std::lock_guard control(control_mu_);
  absl::StatusOr<std::shared_ptr<const Active>> installed = InstallLocked(policy, claims_);
  if (!installed.ok()) return installed.status();
  vmd::v1::SetMsrPolicyResponse response;
  *response.mutable_policy() = policy;
  *response.mutable_filter() = (*installed)->compiled->Summary();
  for (const std::string& w : (*installed)->compiled->warnings) response.add_warnings(w);
  return response;
}

absl::Status MsrExitRouter::Claim(const std::string& owner, std::vector<msr::MsrClaim> ranges,
                                  MsrClaimHandler* handler) {
  std::lock_guard control(control_mu_);
  for (const ClaimEntry& c : claims_) {
    if (c.owner == owner) return absl::AlreadyExistsError(absl::StrCat(owner, " already claims MSRs"));
  }
  for (msr::MsrClaim& r : ranges) r.owner = owner;
  std::vector<ClaimEntry> next = claims_;
  next.push_back({owner, std::move(ranges), handler});
  return ReplaceClaimsLocked(std::move(next));
}

absl::Status MsrExitRouter::ReplaceClaimsLocked(std::vector<ClaimEntry> claims) {
  std::shared_ptr<const Active> current = active();
  absl::StatusOr<std::shared_ptr<const Active>> installed =
      InstallLocked(current ? current->policy : vmd::v1::MsrPolicy(), claims);
  if (!installed.ok()) return installed.status();
  claims_ = std::move(claims);
  return absl::OkStatus();
}

absl::Status MsrExitRouter::Release(const std::string& owner) {
  std::lock_guard control(control_mu_);
  std::vector<ClaimEntry> next = claims_;
  if (std::erase_if(next, [&](const ClaimEntry& c) { return c.owner == owner; }) == 0) {
    return absl::NotFoundError(absl::StrCat(owner, " claims no MSRs"));
  }
  return ReplaceClaimsLocked(std::move(next));
}

vmd::v1::MsrPolicy MsrExitRouter::policy() const {
  std::shared_ptr<const Active> a = active();
  return a ? a->policy : vmd::v1::MsrPolicy();
}

msr::MsrAccessResult MsrExitRouter::Answered(uint32_t index, bool write, msr::MsrAccessResult result) {
  // A handler's #GP refuses the access: the guest sees what a DENY gives.
  stats_.Record(index, write, result.gp ? vmd::v1::MSR_OUTCOME_DENIED : vmd::v1::MSR_OUTCOME_EMULATED);
  return result;
}

msr::MsrAccessResult MsrExitRouter::Handle(uint32_t vcpu, uint32_t index, bool write, uint64_t value) {
  std::shared_ptr<const Active> a = active();
  msr::MsrDecision decision = a ? a->compiled->Decide(index, write) : msr::MsrDecision::Unhandled();
  switch (decision.kind) {
    case msr::MsrDecisionKind::kClaimed: {
      MsrClaimHandler* handler = a->claim_handlers[decision.handler];
      return Answered(index, write, write ? handler->WriteMsr(vcpu, index, value) : handler->ReadMsr(vcpu, index));
    }
    case msr::MsrDecisionKind::kEmulate:
      return Answered(index, write,
                      write ? a->handlers->Write(decision.handler, value) : a->handlers->Read(decision.handler));
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
  // Trapped, but nothing answers it (e.g. an unknown MSR with no handler):
  // #GP, as KVM would have given.
  stats_.Record(index, write, vmd::v1::MSR_OUTCOME_UNHANDLED);
  return msr::MsrAccessResult::Gp();
}

std::vector<engine::v1::MsrDenial> MsrExitRouter::TakeDenials() {
  std::lock_guard lock(mu_);
  std::vector<engine::v1::MsrDenial> out(denials_.begin(), denials_.end());
  denials_.clear();
  return out;
}

std::map<uint32_t, uint64_t> MsrExitRouter::StoredValues() const {
  std::shared_ptr<const Active> a = active();
  return a ? a->handlers->StoredValues() : std::map<uint32_t, uint64_t>();
}

void MsrExitRouter::SetStoredValues(const std::map<uint32_t, uint64_t>& values) {
  if (std::shared_ptr<const Active> a = active()) a->handlers->SetStoredValues(values);
}

}  // namespace vmd::engine

// Where every trapped MSR access (a kMsrRead/kMsrWrite exit) goes: the
// engine's own claims first (a vPMU, a generation device, the benchmark),
// then the user's MSR policy (seed 001) -- both compiled into the one KVM
// filter the VM runs under (msr::CompileMsrPolicy with claims). The vCPU
// that trapped is passed on, so a claim's owner keeps per-vCPU state.
// Also counts trapped accesses and queues the rate-limited denial events
// vmd collects.
#ifndef VMD_BACKEND_VCPU_MSR_EXIT_ROUTER_H_
#define VMD_BACKEND_VCPU_MSR_EXIT_ROUTER_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/msr/msr_claim.h"
#include "backend/msr/msr_handlers.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_stats.h"
#include "vmd/engine/v1/engine.pb.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::engine {

// An engine component that emulates the MSRs it claims.
class MsrClaimHandler {
 public:
  virtual ~MsrClaimHandler() = default;
  // `vcpu` is the vCPU whose access trapped.
  virtual msr::MsrAccessResult ReadMsr(uint32_t vcpu, uint32_t index) = 0;
  virtual msr::MsrAccessResult WriteMsr(uint32_t vcpu, uint32_t index, uint64_t value) = 0;
};

class MsrExitRouter {
 public:
  static constexpr size_t kMaxQueuedDenials = 256;

  // Installs `filter` on the VM and then runs `commit`, with no vCPU inside
  // Run() in between, so that no access is trapped under one filter and
  // answered under another (VmRunner::WithVcpusParked).
  using InstallFn = std::function<absl::Status(const msr::MsrFilter& filter, const std::function<void()>& commit)>;

  MsrExitRouter(msr::MsrTopology topology, InstallFn install)
      : topology_(topology), install_(std::move(install)) {}

  // Replaces the user's policy (validation errors name the field). STOREd
  // handler values carry over to handlers of the same MSR.
  absl::StatusOr<vmd::v1::SetMsrPolicyResponse> SetPolicy(const vmd::v1::MsrPolicy& policy);
  // Claims `ranges` for `handler` under `owner` (ALREADY_EXISTS if the
  // owner claims already) / drops the owner's claims. The user's policy
  // stays as it is.
  absl::Status Claim(const std::string& owner, std::vector<msr::MsrClaim> ranges, MsrClaimHandler* handler);
  absl::Status Release(const std::string& owner);

  // The answer to a trapped access of `vcpu`.
  msr::MsrAccessResult Handle(uint32_t vcpu, uint32_t index, bool write, uint64_t value);

  vmd::v1::MsrPolicy policy() const;
  vmd::v1::MsrStats Stats() const { return stats_.Snapshot(); }
  // The queued denial events, oldest first; the queue is emptied.
  std::vector<engine::v1::MsrDenial> TakeDenials();
  // The user handlers' STOREd values (snapshots), and their restore.
  std::map<uint32_t, uint64_t> StoredValues() const;
  void SetStoredValues(const std::map<uint32_t, uint64_t>& values);

 private:
  // Counts a handler's answer: EMULATED, or DENIED when it is a #GP.
  msr::MsrAccessResult Answered(uint32_t index, bool write, msr::MsrAccessResult result);

  struct ClaimEntry {
    std::string owner;
    std::vector<msr::MsrClaim> ranges;
    MsrClaimHandler* handler;
  };
  // What Handle() reads: swapped whole, so a vCPU sees one consistent set.
  struct Active {
    vmd::v1::MsrPolicy policy;
    std::shared_ptr<const msr::CompiledMsrPolicy> compiled;
    std::shared_ptr<msr::MsrHandlers> handlers;
    std::vector<MsrClaimHandler*> claim_handlers;  // by CompiledMsrPolicy::claims position
  };
  // Compiles `policy` with `claims`, installs it, and makes it active.
  // Requires control_mu_.
  absl::StatusOr<std::shared_ptr<const Active>> InstallLocked(const vmd::v1::MsrPolicy& policy,
                                                               const std::vector<ClaimEntry>& claims);
  // Installs the current policy with `claims` and keeps them. Requires
  // control_mu_.
  absl::Status ReplaceClaimsLocked(std::vector<ClaimEntry> claims);
  std::shared_ptr<const Active> active() const;

  const msr::MsrTopology topology_;
  const InstallFn install_;
  std::mutex control_mu_;  // serializes SetPolicy, Claim and Release
  std::vector<ClaimEntry> claims_;  // guarded by control_mu_
  mutable std::mutex mu_;
  std::shared_ptr<const Active> active_;  // null: nothing installed (KVM handles all)
  msr::MsrAccessStats stats_;
  std::deque<engine::v1::MsrDenial> denials_;  // guarded by mu_
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_VCPU_MSR_EXIT_ROUTER_H_

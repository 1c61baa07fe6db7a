// The engine's side of a VM's MSR policy (seed 001): the compiled policy in
// force, its user-space handlers, the counters of trapped accesses, and the
// rate-limited denial events vmd collects. The vCPU loop asks it how to answer
// every kMsrRead/kMsrWrite exit.
#ifndef VMD_BACKEND_MSR_POLICY_RUNTIME_H_
#define VMD_BACKEND_MSR_POLICY_RUNTIME_H_

#include <deque>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "backend/msr/msr_handlers.h"
#include "backend/msr/msr_policy_compiler.h"
#include "backend/msr/msr_stats.h"
#include "vmd/engine/v1/engine.pb.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::engine {

class MsrPolicyRuntime {
 public:
  static constexpr size_t kMaxQueuedDenials = 256;

  explicit MsrPolicyRuntime(msr::MsrTopology topology) : topology_(topology) {}

  // A policy ready to install: compiled (validation errors name the field)
  // with its handlers, carrying over the values the current handlers store.
  struct Prepared {
    vmd::v1::MsrPolicy policy;
    std::shared_ptr<const msr::CompiledMsrPolicy> compiled;
    std::shared_ptr<msr::MsrHandlers> handlers;
  };
  absl::StatusOr<Prepared> Prepare(const vmd::v1::MsrPolicy& policy) const;
  // Makes `prepared` the policy in force. The caller has installed its
  // filter on the VM with no vCPU inside KVM_RUN (see VmRunner).
  void Install(Prepared prepared);

  // The answer to a trapped access, counted (and, for a denial of a policy
  // with log_denials, queued as an event if the rate limit admits it).
  msr::MsrAccessResult Handle(uint32_t index, bool write, uint64_t value);

  vmd::v1::MsrPolicy policy() const;
  vmd::v1::MsrStats Stats() const { return stats_.Snapshot(); }
  // The queued denial events, oldest first; the queue is emptied.
  std::vector<engine::v1::MsrDenial> TakeDenials();

 private:
  struct Active {
    vmd::v1::MsrPolicy policy;
    std::shared_ptr<const msr::CompiledMsrPolicy> compiled;
    std::shared_ptr<msr::MsrHandlers> handlers;
  };
  std::shared_ptr<const Active> active() const;

  const msr::MsrTopology topology_;
  mutable std::mutex mu_;
  std::shared_ptr<const Active> active_;  // null: no policy (KVM handles all)
  msr::MsrAccessStats stats_;
  std::deque<engine::v1::MsrDenial> denials_;
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_MSR_POLICY_RUNTIME_H_

#include "backend/engine/probe_mailbox.h"

#include <atomic>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/msi.h"
#include "backend/probe/probe_program.h"

namespace vmd::engine {

ProbeMailbox::ProbeMailbox(hv::GuestMemory& memory, hv::Vm& vm)
    : memory_(memory),
      vm_(vm),
      mailbox_(memory.At<vmd_probe_mailbox>(VMD_PROBE_MAILBOX_GPA)),
      sequence_(std::atomic_ref<uint32_t>(mailbox_->sequence).load()),
      done_(std::atomic_ref<uint32_t>(mailbox_->done_sequence).load()) {}

void ProbeMailbox::Write(uint64_t, std::span<const uint8_t> data) {
  if (data.size() != sizeof(uint32_t)) return;
  uint32_t sequence;
  std::memcpy(&sequence, data.data(), sizeof(sequence));
  std::lock_guard lock(mu_);
  done_ = sequence;
  cv_.notify_all();
}

void ProbeMailbox::SetRunning(bool running, const std::string& state) {
  std::lock_guard lock(mu_);
  running_ = running;
  state_ = state;
  cv_.notify_all();
}

absl::StatusOr<std::vector<vmd_probe_op>> ProbeMailbox::Run(std::span<const vmd_probe_op> ops,
                                                           std::chrono::milliseconds timeout) {
  if (ops.empty() || ops.size() > VMD_PROBE_MAX_OPS) {
    return absl::InvalidArgumentError(
        absl::StrCat("a mailbox program has 1 to ", VMD_PROBE_MAX_OPS, " ops, not ", ops.size()));
  }
  std::lock_guard run_lock(run_mu_);
  uint32_t sequence;
  {
    std::lock_guard lock(mu_);
    if (!running_) return absl::FailedPreconditionError(absl::StrCat("cannot run a mailbox program: VM is ", state_));
    mailbox_->magic = VMD_PROBE_MAGIC;
    mailbox_->nops = static_cast<uint32_t>(ops.size());
    for (size_t i = 0; i < ops.size(); ++i) {
      vmd_probe_op& m = mailbox_->ops[i];
      m = ops[i];
      m.status = VMD_PROBE_PENDING;
      m.vector = 0;
      std::memset(m.out, 0, sizeof(m.out));
    }
    sequence = ++sequence_;
    std::atomic_ref<uint32_t>(mailbox_->sequence).store(sequence, std::memory_order_release);
  }
  if (absl::Status s = vm_.SignalMsi(hv::FixedMsi(0, VMD_VECTOR_PROBE)); !s.ok()) return s;
  std::unique_lock lock(mu_);
  const bool finished = cv_.wait_for(lock, timeout, [&] { return done_ == sequence || !running_; });
  if (done_ != sequence) {
    if (!finished) {
      return absl::DeadlineExceededError(
          absl::StrCat("the guest did not finish the mailbox program within ", timeout.count(), " ms"));
    }
    return absl::AbortedError(absl::StrCat("the VM became ", state_, " during the mailbox program"));
  }
  std::atomic_thread_fence(std::memory_order_acquire);
  return std::vector<vmd_probe_op>(mailbox_->ops, mailbox_->ops + ops.size());
}

absl::StatusOr<vmd::v1::RunProbeResponse> ProbeMailbox::RunProbe(const vmd::v1::RunProbeRequest& request) {
  if (absl::Status s = probe::ValidateProbeRequest(request, memory_.size()); !s.ok()) return s;
  const auto timeout =
      std::chrono::milliseconds(request.timeout_ms() == 0 ? probe::kDefaultTimeoutMs : request.timeout_ms());
  absl::StatusOr<std::vector<vmd_probe_op>> done = Run(probe::EncodeProbe(request), timeout);
  if (!done.ok()) return done.status();
  return probe::DecodeProbe(*done);
}

}  // namespace vmd::engine

#include "daemon/core/event_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"

namespace vmd::daemon {

void EventLog::Publish(const v1::Event& event) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(event);
    if (events_.size() > capacity_) events_.pop_front();
    last_sequence_ = event.sequence();
  }
  std::lock_guard lock(subscribers_mu_);
  for (auto& [id, on_publish] : subscribers_) on_publish();
}

uint64_t EventLog::Subscribe(std::function<void()> on_publish) {
  std::lock_guard lock(subscribers_mu_);
  subscribers_[next_subscriber_] = std::move(on_publish);
  return next_subscriber_++;
}

void EventLog::Unsubscribe(uint64_t id) {
  std::lock_guard lock(subscribers_mu_);
  subscribers_.erase(id);
}

v1::Event MakeVmEvent(const v1::Vm& vm, v1::EventType type, v1::VmState new_state, std::string message,
                      google::protobuf::Timestamp time) {
  v1::Event e;
  *e.mutable_time() = std::move(time);
  e.set_type(type);
  e.set_vm_id(vm.id());
  e.set_vm_name(vm.spec().name());
  e.set_old_state(vm.status().state());
  e.set_new_state(new_state);
  e.set_message(std::move(message));
  return e;
}

absl::StatusOr<uint64_t> EventLog::Read(uint64_t after_sequence, const std::string& vm_name, size_t max_events,
                                        std::vector<v1::Event>* out) {
  std::lock_guard lock(mu_);
  // Sequences are contiguous, so a gap before the oldest retained event means
  // the watcher has missed events -- unless it asked for all retained (0).
  if (after_sequence != 0 && !events_.empty() && after_sequence + 1 < events_.front().sequence()) {
    return rpc::WithErrorInfo(
        absl::OutOfRangeError(absl::StrCat("after_sequence ", after_sequence,
                                           " is older than the oldest retained event ", events_.front().sequence(),
                                           "; list VMs to resynchronize, then watch from ", last_sequence_)),
        rpc::reason::kEventsNotRetained,
        {{"resume_sequence", absl::StrCat(last_sequence_)},
         {"oldest_retained_sequence", absl::StrCat(events_.front().sequence())}});
  }
  auto first = std::upper_bound(events_.begin(), events_.end(), after_sequence,
                                [](uint64_t seq, const v1::Event& e) { return seq < e.sequence(); });
  uint64_t cursor = after_sequence;
  size_t taken = 0;
  for (auto it = first; it != events_.end() && taken < max_events; ++it) {
    if (vm_name.empty() || it->vm_name() == vm_name) {
      out->push_back(*it);
      ++taken;
    }
    cursor = it->sequence();
  }
  return cursor;
}

uint64_t EventLog::last_sequence() const {
  std::lock_guard lock(mu_);
  return last_sequence_;
}

}  // namespace vmd::daemon

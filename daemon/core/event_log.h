// The retained window of committed events, in sequence order, for
// WatchEvents. Events are published in commit order (see VmManager), so a
// watcher that resumes after its last sequence misses nothing retained.
#ifndef VMD_DAEMON_CORE_EVENT_LOG_H_
#define VMD_DAEMON_CORE_EVENT_LOG_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/timestamp.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

// An event about `vm` (its id, name and current state as old_state).
v1::Event MakeVmEvent(const v1::Vm& vm, v1::EventType type, v1::VmState new_state, std::string message,
                      google::protobuf::Timestamp time);

class EventLog {
 public:
  explicit EventLog(size_t capacity) : capacity_(capacity) {}

  // Events must come in increasing sequence order.
  void Publish(const v1::Event& event);

  // Appends to `out` at most `max_events` of the events after
  // `after_sequence` (of `vm_name` only, when set), without waiting. Returns
  // the cursor to read from next: the last sequence examined, filtered or
  // not. 0 means from the oldest retained. OUT_OF_RANGE when events after
  // `after_sequence` (not 0) are no longer retained.
  absl::StatusOr<uint64_t> Read(uint64_t after_sequence, const std::string& vm_name, size_t max_events,
                                std::vector<v1::Event>* out);

  // `on_publish` runs after every Publish, on the publisher's thread, so it
  // must be quick (a stream just schedules itself). Once Unsubscribe
  // returns, it runs no more.
  uint64_t Subscribe(std::function<void()> on_publish);
  void Unsubscribe(uint64_t id);

  // The sequence of the newest event published (0 when none).
  uint64_t last_sequence() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<v1::Event> events_;
  uint64_t last_sequence_ = 0;

  std::mutex subscribers_mu_;  // held while they run: never with mu_
  std::map<uint64_t, std::function<void()>> subscribers_;
  uint64_t next_subscriber_ = 1;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_EVENT_LOG_H_

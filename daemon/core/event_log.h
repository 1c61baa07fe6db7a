// The retained window of committed events, in sequence order, for
// WatchEvents. Events are published in commit order (see VmManager), so a
// watcher that resumes after its last sequence misses nothing retained.
#ifndef VMD_DAEMON_CORE_EVENT_LOG_H_
#define VMD_DAEMON_CORE_EVENT_LOG_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
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

  // Appends to `out` the events after `after_sequence` (of `vm_name` only,
  // when set), waiting up to `timeout` when there are none yet. Returns the
  // cursor to read from next: the last sequence examined, filtered or not.
  // 0 means from the oldest retained. OUT_OF_RANGE when events after
  // `after_sequence` (not 0) are no longer retained.
  absl::StatusOr<uint64_t> Read(uint64_t after_sequence, const std::string& vm_name,
                                std::chrono::milliseconds timeout, std::vector<v1::Event>* out);

  // The sequence of the newest event published (0 when none).
  uint64_t last_sequence() const;

  // For shutdown: wakes every Read that waits, and makes later ones return
  // at once with what there is; watchers then see closed() and end.
  void Close();
  bool closed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<v1::Event> events_;
  uint64_t last_sequence_ = 0;
  bool closed_ = false;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_EVENT_LOG_H_

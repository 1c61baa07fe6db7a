// WatchEvents as a pumped stream: the events after a sequence (of one VM,
// when asked), then each new one as it is published. It reads the event log
// in batches of at most kEventBatch and buffers nothing else, so a client
// that reads slowly falls behind in the log (and, past its retained window,
// gets OUT_OF_RANGE with where to resume) instead of growing vmd.
#ifndef VMD_DAEMON_API_EVENT_STREAM_H_
#define VMD_DAEMON_API_EVENT_STREAM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/api/stream_writer.h"
#include "daemon/core/event_log.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

inline constexpr size_t kEventBatch = 64;

class EventStream final : public StreamWriter<v1::Event> {
 public:
  EventStream(grpc::CallbackServerContext* ctx, StreamPump& pump, StreamLimits::Slot slot, EventLog& log,
              uint64_t after_sequence, std::string vm_name);
  ~EventStream() override;

 private:
  void Attach() override;
  StreamStep Next(v1::Event* out, grpc::Status* end) override;
  grpc::Status Stalled(const v1::Event& in_flight) override;

  EventLog& log_;
  const std::string vm_name_;
  uint64_t cursor_;  // the log is read after this
  std::vector<v1::Event> batch_;
  size_t batch_next_ = 0;
  uint64_t subscription_ = 0;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_EVENT_STREAM_H_

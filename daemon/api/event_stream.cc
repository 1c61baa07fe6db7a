#include "daemon/api/event_stream.h"

#include "backend/rpc/grpc_status.h"

namespace vmd::daemon {

EventStream::EventStream(grpc::CallbackServerContext* ctx, StreamPump& pump, StreamLimits::Slot slot, EventLog& log,
                         uint64_t after_sequence, std::string vm_name)
    : StreamWriter(ctx, pump, std::move(slot)),
      log_(log),
      vm_name_(std::move(vm_name)),
      cursor_(after_sequence) {}

EventStream::~EventStream() {
  if (subscription_ != 0) log_.Unsubscribe(subscription_);
}

void EventStream::Attach() {
  std::weak_ptr<PumpedStream> self = weak_from_this();
  subscription_ = log_.Subscribe([self, &pump = pump()] { pump.Wake(self); });
}

StreamStep EventStream::Next(v1::Event* out, grpc::Status* end) {
  if (batch_next_ == batch_.size()) {
    batch_.clear();
    batch_next_ = 0;
    absl::StatusOr<uint64_t> next = log_.Read(cursor_, vm_name_, kEventBatch, &batch_);
    if (!next.ok()) {
      *end = rpc::ToGrpcStatus(next.status());
      return StreamStep::kEnd;
    }
    cursor_ = *next;
    if (batch_.empty()) return StreamStep::kWait;
  }
  *out = std::move(batch_[batch_next_++]);
  return StreamStep::kWrite;
}

grpc::Status EventStream::Stalled(const v1::Event& in_flight) {
  return StalledStatus(pump().options(), "event", "watch again with after_sequence", "resume_sequence",
                       in_flight.sequence());
}

}  // namespace vmd::daemon

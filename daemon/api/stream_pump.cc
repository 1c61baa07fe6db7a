#include "daemon/api/stream_pump.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/grpc_status.h"

namespace vmd::daemon {

grpc::Status StalledStatus(const StreamPumpOptions& options, const std::string& what, const std::string& resume_hint,
                           const std::string& resume_key, uint64_t resume) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(options.stall_timeout).count();
  return rpc::ToGrpcStatus(rpc::WithErrorInfo(
      absl::ResourceExhaustedError(
          absl::StrCat("the client took no ", what, " for ", seconds, " s; ", resume_hint, " ", resume)),
      rpc::reason::kStreamStalled, {{resume_key, absl::StrCat(resume)}}));
}

StreamPump::StreamPump(StreamPumpOptions options) : options_(options), thread_(&StreamPump::Loop, this) {}

StreamPump::~StreamPump() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

bool StreamPump::Register(const std::shared_ptr<PumpedStream>& stream) {
  {
    std::lock_guard lock(mu_);
    if (ending_) return false;
    streams_[stream.get()] = stream;
  }
  Wake(stream);
  return true;
}

void StreamPump::Unregister(const PumpedStream* stream) {
  {
    std::lock_guard lock(mu_);
    streams_.erase(stream);
  }
  gone_cv_.notify_all();
}

void StreamPump::Wake(const std::weak_ptr<PumpedStream>& weak) {
  std::shared_ptr<PumpedStream> stream = weak.lock();
  if (!stream || stream->queued_.exchange(true)) return;
  {
    std::lock_guard lock(mu_);
    ready_.push_back(weak);
  }
  cv_.notify_one();
  // `stream` may be the last reference: its destructor runs here, with no
  // pump lock held.
}

void StreamPump::EndAll(const grpc::Status& status, std::chrono::milliseconds wait) {
  std::vector<std::weak_ptr<PumpedStream>> all;
  {
    std::lock_guard lock(mu_);
    ending_ = true;
    end_status_ = status;
    for (auto& [key, weak] : streams_) all.push_back(weak);
  }
  for (auto& weak : all) {
    if (std::shared_ptr<PumpedStream> stream = weak.lock()) stream->End(status);
  }
  all.clear();
  std::unique_lock lock(mu_);
  gone_cv_.wait_for(lock, wait, [&] { return streams_.empty(); });
}

grpc::Status StreamPump::end_status() const {
  std::lock_guard lock(mu_);
  return end_status_;
}

void StreamPump::Loop() {
  StreamClock::time_point next_tick = StreamClock::now() + options_.tick;
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (ready_.empty()) cv_.wait_until(lock, next_tick, [&] { return stop_ || !ready_.empty(); });
    if (stop_) break;
    // Streams are called without the lock, so that their callbacks (and the
    // destructor of one whose last reference is here) may Wake or Unregister.
    std::deque<std::weak_ptr<PumpedStream>> ready;
    ready.swap(ready_);
    const bool ticking = StreamClock::now() >= next_tick;
    std::vector<std::weak_ptr<PumpedStream>> all;
    if (ticking) {
      for (auto& [key, weak] : streams_) all.push_back(weak);
      next_tick = StreamClock::now() + options_.tick;
    }
    lock.unlock();
    for (auto& weak : ready) {
      if (std::shared_ptr<PumpedStream> stream = weak.lock()) {
        stream->queued_ = false;
        stream->Pump();
      }
    }
    const StreamClock::time_point now = StreamClock::now();
    for (auto& weak : all) {
      if (std::shared_ptr<PumpedStream> stream = weak.lock()) stream->Tick(now);
    }
    ready.clear();
    all.clear();
    lock.lock();
  }
}

}  // namespace vmd::daemon

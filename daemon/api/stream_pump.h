// Serves every server stream of the daemon from one thread, so a stream
// costs a little memory and no thread (hardening issue: 2,000 console
// follows held 2,000 threads). A stream is woken when it may have something
// to send (an event published, a console file written, its last write
// done); the pump then asks it to write, and it keeps at most one write in
// flight. A tick drives what has no wake-up (polling, stall detection).
#ifndef VMD_DAEMON_API_STREAM_PUMP_H_
#define VMD_DAEMON_API_STREAM_PUMP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "grpcpp/grpcpp.h"

namespace vmd::daemon {

using StreamClock = std::chrono::steady_clock;

// What the pump drives; StreamWriter implements it.
class PumpedStream {
 public:
  virtual ~PumpedStream() = default;
  // On the pump thread: start the next write, if there is one to send and
  // none in flight.
  virtual void Pump() = 0;
  // On the pump thread, every tick.
  virtual void Tick(StreamClock::time_point now) = 0;
  // From any thread: finish the stream with `status` (once; later calls do
  // nothing).
  virtual void End(const grpc::Status& status) = 0;

 private:
  friend class StreamPump;
  std::atomic<bool> queued_{false};  // in the pump's ready queue
};

struct StreamPumpOptions {
  std::chrono::milliseconds tick{200};
  // A write the client has not taken for this long ends the stream with
  // RESOURCE_EXHAUSTED (flow control: one message per stream is buffered,
  // so a reader that stops costs nothing but its place).
  std::chrono::milliseconds stall_timeout{std::chrono::seconds(30)};
  // A finished stream whose client still takes nothing is cancelled after
  // this, so that its last message and its slot are freed.
  std::chrono::milliseconds finish_grace{std::chrono::seconds(5)};
};

// RESOURCE_EXHAUSTED (STREAM_STALLED) for a stream whose client took no
// `what` for `options.stall_timeout`: "<resume_hint> <resume>", and
// `resume_key` = resume in the ErrorInfo.
grpc::Status StalledStatus(const StreamPumpOptions& options, const std::string& what, const std::string& resume_hint,
                           const std::string& resume_key, uint64_t resume);

class StreamPump {
 public:
  explicit StreamPump(StreamPumpOptions options = {});
  ~StreamPump();
  StreamPump(const StreamPump&) = delete;
  StreamPump& operator=(const StreamPump&) = delete;

  const StreamPumpOptions& options() const { return options_; }

  // Adds a stream and wakes it. False (and the stream is not added) once
  // EndAll has run: end it with end_status().
  bool Register(const std::shared_ptr<PumpedStream>& stream);
  void Unregister(const PumpedStream* stream);
  // Queues the stream for a Pump, unless it is queued already or gone. Never
  // blocks on a stream: callable from any callback.
  void Wake(const std::weak_ptr<PumpedStream>& stream);
  // Ends every stream with `status`, and waits (up to `wait`) for gRPC to
  // be done with them; later Registers are refused.
  void EndAll(const grpc::Status& status, std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  grpc::Status end_status() const;

 private:
  void Loop();

  const StreamPumpOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable gone_cv_;  // a stream unregistered
  std::deque<std::weak_ptr<PumpedStream>> ready_;
  std::map<const PumpedStream*, std::weak_ptr<PumpedStream>> streams_;
  bool ending_ = false;
  grpc::Status end_status_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_STREAM_PUMP_H_

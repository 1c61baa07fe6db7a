// A server-streaming RPC driven by the StreamPump: the gRPC callback API's
// write reactor with one write in flight, an end that any thread may call
// once, stall detection, and its own lifetime (it lives until gRPC says the
// call is done, and no longer than any wake-up that still refers to it).
//
// gRPC may run reactions inline in StartWrite and Finish, so no lock of the
// stream is held across them.
#ifndef VMD_DAEMON_API_STREAM_WRITER_H_
#define VMD_DAEMON_API_STREAM_WRITER_H_

#include <memory>
#include <mutex>
#include <optional>

#include "daemon/api/stream_limits.h"
#include "daemon/api/stream_pump.h"
#include "grpcpp/grpcpp.h"

namespace vmd::daemon {

// What a stream has to send next.
enum class StreamStep { kWrite, kWait, kEnd };

template <typename Msg>
class StreamWriter : public grpc::ServerWriteReactor<Msg>,
                     public PumpedStream,
                     public std::enable_shared_from_this<StreamWriter<Msg>> {
 public:
  // Makes the stream and hands it to the pump. The returned reactor is
  // gRPC's until OnDone.
  template <typename Stream, typename... Args>
  static grpc::ServerWriteReactor<Msg>* Open(grpc::CallbackServerContext* ctx, StreamPump& pump,
                                             StreamLimits::Slot slot, Args&&... args) {
    std::shared_ptr<StreamWriter> stream =
        std::make_shared<Stream>(ctx, pump, std::move(slot), std::forward<Args>(args)...);
    stream->self_ = stream;
    stream->Attach();
    if (!pump.Register(stream)) stream->End(pump.end_status());
    return stream.get();
  }

  void Pump() final {
    {
      std::lock_guard lock(mu_);
      if (writing_ || ending_) return;
    }
    grpc::Status end;
    switch (Next(&out_, &end)) {
      case StreamStep::kWait:
        return;
      case StreamStep::kEnd:
        End(end);
        return;
      case StreamStep::kWrite:
        break;
    }
    {
      std::lock_guard lock(mu_);
      if (ending_) return;
      writing_ = true;
      starting_write_ = true;
      write_since_ = StreamClock::now();
    }
    this->StartWrite(&out_);
    std::optional<grpc::Status> end_now;
    {
      std::lock_guard lock(mu_);
      starting_write_ = false;
      end_now.swap(deferred_end_);
    }
    if (end_now) this->Finish(*end_now);
  }

  void Tick(StreamClock::time_point now) final {
    bool stalled = false, cancel = false;
    {
      std::lock_guard lock(mu_);
      if (ending_) {
        cancel = !cancelled_ && now - end_since_ > pump_.options().finish_grace;
        cancelled_ = cancelled_ || cancel;
      } else {
        stalled = writing_ && now - write_since_ > pump_.options().stall_timeout;
      }
    }
    if (cancel) {
      ctx_->TryCancel();  // may call OnCancel inline
    } else if (stalled) {
      End(Stalled(out_));
    } else if (PollDue()) {
      Pump();
    }
  }

  void End(const grpc::Status& status) final {
    {
      std::lock_guard lock(mu_);
      if (ending_) return;
      ending_ = true;
      end_since_ = StreamClock::now();
      // Finish must follow the StartWrite the pump is making, not race it.
      if (starting_write_) {
        deferred_end_ = status;
        return;
      }
    }
    this->Finish(status);
  }

  void OnWriteDone(bool ok) final {
    {
      std::lock_guard lock(mu_);
      writing_ = false;
    }
    if (!ok) {  // the call is over (cancelled, or the client went away)
      End(grpc::Status::CANCELLED);
      return;
    }
    pump_.Wake(this->weak_from_this());
  }

  void OnCancel() final { End(grpc::Status::CANCELLED); }

  void OnDone() final {
    pump_.Unregister(this);
    // The stream goes with the last wake-up that still holds it, perhaps now.
    std::shared_ptr<StreamWriter> last = std::move(self_);
  }

  // Made only through Open.
  StreamWriter(grpc::CallbackServerContext* ctx, StreamPump& pump, StreamLimits::Slot slot)
      : ctx_(ctx), pump_(pump), slot_(std::move(slot)) {}

 protected:
  // After construction, with weak_from_this() usable: subscribe to wake-ups.
  virtual void Attach() {}
  // On the pump thread, never while a write is in flight: fill `out`
  // (kWrite), or say there is nothing yet (kWait) or that the stream is over
  // (kEnd, with `end`).
  virtual StreamStep Next(Msg* out, grpc::Status* end) = 0;
  // The status that ends a stream whose client stopped reading: where to
  // resume. `in_flight` is the message stuck in flow control; it reaches the
  // client before the status does, if the client reads again.
  virtual grpc::Status Stalled(const Msg& in_flight) = 0;
  // Whether this tick should look for output without a wake-up (polling).
  virtual bool PollDue() { return false; }

  StreamPump& pump() { return pump_; }

 private:
  grpc::CallbackServerContext* const ctx_;
  StreamPump& pump_;
  const StreamLimits::Slot slot_;
  std::shared_ptr<StreamWriter> self_;  // gRPC's reference, until OnDone

  std::mutex mu_;
  bool writing_ = false;
  bool ending_ = false;
  bool cancelled_ = false;
  bool starting_write_ = false;               // the pump is in StartWrite
  std::optional<grpc::Status> deferred_end_;  // End called meanwhile
  StreamClock::time_point write_since_;
  StreamClock::time_point end_since_;
  Msg out_;  // the message in flight: untouched until its write is done
};

// A stream refused before it starts: it finishes at once with `status`.
template <typename Msg>
grpc::ServerWriteReactor<Msg>* RefusedStream(const grpc::Status& status) {
  class Refused final : public grpc::ServerWriteReactor<Msg> {
   public:
    explicit Refused(const grpc::Status& status) { this->Finish(status); }
    void OnDone() override { delete this; }
  };
  return new Refused(status);
}

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_STREAM_WRITER_H_

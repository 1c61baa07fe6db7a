// Caps on concurrent server streams (WatchEvents, StreamConsole), in total
// and per client, so that no client can hold the daemon's memory or its
// pump with streams it never reads (hardening issue: 500 idle WatchEvents
// streams grew vmd to 1.2 GB). A stream holds a Slot for its whole life.
#ifndef VMD_DAEMON_API_STREAM_LIMITS_H_
#define VMD_DAEMON_API_STREAM_LIMITS_H_

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"

namespace vmd::daemon {

// The client a gRPC peer string names: the address without its port
// ("ipv4:10.0.0.1:5123" -> "ipv4:10.0.0.1"), so that one host's many
// connections share one budget. Every unix-socket peer is the same client:
// the socket is open only to its owner and group.
std::string StreamClientKey(const std::string& peer);

class StreamLimits {
 public:
  StreamLimits(size_t max_total, size_t max_per_client) : max_total_(max_total), max_per_client_(max_per_client) {}

  // Holds one stream's place; gives it back when destroyed.
  class Slot {
   public:
    Slot(Slot&& other) noexcept : limits_(other.limits_), client_(std::move(other.client_)) { other.limits_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot();

   private:
    friend class StreamLimits;
    Slot(StreamLimits* limits, std::string client) : limits_(limits), client_(std::move(client)) {}
    StreamLimits* limits_;
    std::string client_;
  };

  // A slot for a stream of `peer`, or RESOURCE_EXHAUSTED naming the limit
  // (and its flag) that is reached.
  absl::StatusOr<Slot> Acquire(const std::string& peer);

  size_t open() const;

 private:
  void Release(const std::string& client);

  const size_t max_total_;
  const size_t max_per_client_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::map<std::string, size_t> by_client_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_STREAM_LIMITS_H_

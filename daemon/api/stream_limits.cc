#include "daemon/api/stream_limits.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "backend/rpc/error_details.h"

namespace vmd::daemon {

std::string StreamClientKey(const std::string& peer) {
  if (absl::StartsWith(peer, "ipv4:") || absl::StartsWith(peer, "ipv6:")) {
    const size_t colon = peer.rfind(':');
    if (colon > 4) return peer.substr(0, colon);
  }
  if (absl::StartsWith(peer, "unix:")) return "unix";
  return peer;
}

absl::StatusOr<StreamLimits::Slot> StreamLimits::Acquire(const std::string& peer) {
  std::string client = StreamClientKey(peer);
  std::lock_guard lock(mu_);
  if (total_ >= max_total_) {
    return rpc::WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat("vmd serves at most ", max_total_,
                                                  " streams at once (--max-streams); close one or retry later")),
        rpc::reason::kStreamLimit, {{"limit", "max_streams"}, {"max", absl::StrCat(max_total_)}});
  }
  size_t& mine = by_client_[client];
  if (mine >= max_per_client_) {
    return rpc::WithErrorInfo(
        absl::ResourceExhaustedError(absl::StrCat("client ", client, " has ", mine, " streams open, the most one client may (",
                                                  "--max-streams-per-client); close one or retry later")),
        rpc::reason::kStreamLimit,
        {{"limit", "max_streams_per_client"}, {"max", absl::StrCat(max_per_client_)}, {"client", client}});
  }
  ++mine;
  ++total_;
  return Slot(this, std::move(client));
}

void StreamLimits::Release(const std::string& client) {
  std::lock_guard lock(mu_);
  --total_;
  if (--by_client_[client] == 0) by_client_.erase(client);
}

size_t StreamLimits::open() const {
  std::lock_guard lock(mu_);
  return total_;
}

StreamLimits::Slot::~Slot() {
  if (limits_) limits_->Release(client_);
}

}  // namespace vmd::daemon

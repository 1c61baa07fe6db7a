// What identifies a mutating request for request_id replay (AIP-155): the
// same request_id must come with the same request, or the retry is refused.
#ifndef VMD_DAEMON_CORE_REQUEST_FINGERPRINT_H_
#define VMD_DAEMON_CORE_REQUEST_FINGERPRINT_H_

#include <string>

#include "google/protobuf/message.h"

namespace vmd::daemon {

// SHA-256 (32 bytes) of the request's type name and its deterministic
// serialization with the request_id field cleared: equal for equal requests
// (map order does not matter), different when any other field differs.
std::string RequestFingerprint(const google::protobuf::Message& request);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_REQUEST_FINGERPRINT_H_

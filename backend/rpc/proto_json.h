// The JSON form of the typed files between vmd and its engines (engine
// config, host probe, exit record): protobuf's canonical JSON with the
// proto's own field names, and strict parsing (an unknown field is an error,
// so a misspelt one never passes silently).
#ifndef VMD_BACKEND_RPC_PROTO_JSON_H_
#define VMD_BACKEND_RPC_PROTO_JSON_H_

#include <string>

#include "absl/status/status.h"
#include "google/protobuf/message.h"

namespace vmd::rpc {

// Pretty-printed (one field per line) when `multiline`.
std::string ToJson(const google::protobuf::Message& message, bool multiline = false);
// INVALID_ARGUMENT naming the message type and protobuf's reason (which
// names the field).
absl::Status FromJson(const std::string& json, google::protobuf::Message* message);

}  // namespace vmd::rpc

#endif  // VMD_BACKEND_RPC_PROTO_JSON_H_

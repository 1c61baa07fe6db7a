#include "backend/rpc/proto_json.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"

namespace vmd::rpc {

std::string ToJson(const google::protobuf::Message& message, bool multiline) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = multiline;
  options.preserve_proto_field_names = true;
  std::string json;
  // A message of a compiled-in schema always converts.
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  return json;
}

absl::Status FromJson(const std::string& json, google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, message, options); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ", message->GetDescriptor()->full_name(), " in JSON: ", s.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace vmd::rpc

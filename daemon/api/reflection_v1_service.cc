#include "daemon/api/reflection_v1_service.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.pb.h"

namespace vmd::daemon {
namespace {

using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;

// `file` and every file it imports, transitively, each once, dependencies
// first: a client can build the descriptors from the answer alone.
void AddFileWithDependencies(const google::protobuf::FileDescriptor* file, std::set<std::string>& added,
                             grpc::reflection::v1::FileDescriptorResponse* out) {
  if (!added.insert(file->name()).second) return;
  for (int i = 0; i < file->dependency_count(); ++i) AddFileWithDependencies(file->dependency(i), added, out);
  google::protobuf::FileDescriptorProto proto;
  file->CopyTo(&proto);
  proto.SerializeToString(out->add_file_descriptor_proto());
}

void SetError(ServerReflectionResponse& response, grpc::StatusCode code, const std::string& message) {
  response.mutable_error_response()->set_error_code(code);
  response.mutable_error_response()->set_error_message(message);
}

}  // namespace

ServerReflectionResponse ReflectionV1Service::Answer(const ServerReflectionRequest& request) const {
  ServerReflectionResponse response;
  response.set_valid_host(request.host());
  *response.mutable_original_request() = request;
  const google::protobuf::FileDescriptor* file = nullptr;
  std::string missing;
  switch (request.message_request_case()) {
    case ServerReflectionRequest::kListServices:
    {
      auto* list = response.mutable_list_services_response();
      for (const std::string& name : services_) list->add_service()->set_name(name);
    }
      return response;
    case ServerReflectionRequest::kFileByFilename:
      file = pool_->FindFileByName(request.file_by_filename());
      missing = absl::StrCat("file ", request.file_by_filename());
      break;
    case ServerReflectionRequest::kFileContainingSymbol:
      file = pool_->FindFileContainingSymbol(request.file_containing_symbol());
      missing = absl::StrCat("symbol ", request.file_containing_symbol());
      break;
    case ServerReflectionRequest::kFileContainingExtension: {
      const auto& ext = request.file_containing_extension();
      const google::protobuf::Descriptor* type = pool_->FindMessageTypeByName(ext.containing_type());
      const google::protobuf::FieldDescriptor* field =
          type ? pool_->FindExtensionByNumber(type, ext.extension_number()) : nullptr;
      if (field) file = field->file();
      missing = absl::StrCat("extension ", ext.extension_number(), " of ", ext.containing_type());
      break;
    }
    case ServerReflectionRequest::kAllExtensionNumbersOfType: {
      const google::protobuf::Descriptor* type = pool_->FindMessageTypeByName(request.all_extension_numbers_of_type());
      if (!type) {
        SetError(response, grpc::StatusCode::NOT_FOUND, absl::StrCat("type ", request.all_extension_numbers_of_type()));
        return response;
      }
      std::vector<const google::protobuf::FieldDescriptor*> extensions;
      pool_->FindAllExtensions(type, &extensions);
      auto* numbers = response.mutable_all_extension_numbers_response();
      numbers->set_base_type_name(type->full_name());
      for (const google::protobuf::FieldDescriptor* e : extensions) numbers->add_extension_number(e->number());
      return response;
    }
    case ServerReflectionRequest::MESSAGE_REQUEST_NOT_SET:
      SetError(response, grpc::StatusCode::INVALID_ARGUMENT, "no request");
      return response;
  }
  if (!file) {
    SetError(response, grpc::StatusCode::NOT_FOUND, absl::StrCat(missing, " not found"));
    return response;
  }
  std::set<std::string> added;
  AddFileWithDependencies(file, added, response.mutable_file_descriptor_response());
  return response;
}

grpc::Status ReflectionV1Service::ServerReflectionInfo(
    grpc::ServerContext*, grpc::ServerReaderWriter<ServerReflectionResponse, ServerReflectionRequest>* stream) {
  ServerReflectionRequest request;
  while (stream->Read(&request)) {
    if (!stream->Write(Answer(request))) break;
  }
  return grpc::Status::OK;
}

}  // namespace vmd::daemon

#include "backend/rpc/error_details.h"

#include "absl/strings/str_cat.h"

namespace vmd::rpc {

std::string TypeUrl(const google::protobuf::Descriptor& descriptor) {
  return absl::StrCat("type.googleapis.com/", descriptor.full_name());
}

void SetDetail(absl::Status& status, const google::protobuf::Message& detail) {
  status.SetPayload(TypeUrl(*detail.GetDescriptor()), absl::Cord(detail.SerializeAsString()));
}

absl::Status WithErrorInfo(absl::Status status, absl::string_view reason,
                           const std::map<std::string, std::string>& metadata) {
  google::rpc::ErrorInfo info;
  info.set_reason(std::string(reason));
  info.set_domain(std::string(kErrorDomain));
  info.mutable_metadata()->insert(metadata.begin(), metadata.end());
  SetDetail(status, info);
  return status;
}

absl::Status InvalidField(absl::string_view field, absl::string_view rule, absl::string_view reason) {
  absl::Status status = absl::InvalidArgumentError(absl::StrCat(field, ": ", rule));
  google::rpc::BadRequest bad_request;
  google::rpc::BadRequest::FieldViolation* violation = bad_request.add_field_violations();
  violation->set_field(std::string(field));
  violation->set_description(std::string(rule));
  SetDetail(status, bad_request);
  return WithErrorInfo(std::move(status), reason);
}

absl::Status PreconditionFailed(absl::string_view reason, absl::string_view type, absl::string_view subject,
                                absl::string_view message, const std::map<std::string, std::string>& metadata) {
  absl::Status status = absl::FailedPreconditionError(message);
  google::rpc::PreconditionFailure failure;
  google::rpc::PreconditionFailure::Violation* violation = failure.add_violations();
  violation->set_type(std::string(type));
  violation->set_subject(std::string(subject));
  violation->set_description(std::string(message));
  SetDetail(status, failure);
  return WithErrorInfo(std::move(status), reason, metadata);
}

absl::Status WithMessage(const absl::Status& status, absl::string_view message) {
  absl::Status out(status.code(), message);
  status.ForEachPayload([&](absl::string_view type_url, const absl::Cord& payload) {
    out.SetPayload(type_url, payload);
  });
  return out;
}

absl::Status WithFieldPrefix(const absl::Status& status, absl::string_view prefix) {
  absl::Status out = WithMessage(status, absl::StrCat(prefix, ".", status.message()));
  if (std::optional<google::rpc::BadRequest> bad_request = GetDetail<google::rpc::BadRequest>(status)) {
    for (google::rpc::BadRequest::FieldViolation& v : *bad_request->mutable_field_violations()) {
      v.set_field(absl::StrCat(prefix, ".", v.field()));
    }
    SetDetail(out, *bad_request);
  }
  return out;
}

}  // namespace vmd::rpc

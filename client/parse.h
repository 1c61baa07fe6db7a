// Parsing of vmctl's argument values: labels, VM states, backends. Errors are
// INVALID_ARGUMENT with a message that names the offending value.
#ifndef VMD_CLIENT_PARSE_H_
#define VMD_CLIENT_PARSE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::client {

// "key=value" -> {key, value}. The key must be non-empty; the value may be
// empty ("key="). Only the first '=' splits. The server checks the character
// rules (vm.proto VmSpec.labels); this only rejects what cannot be a label.
absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(
    absl::string_view text);

// Several "key=value" labels. The same key twice is an error unless the
// values agree.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& texts);

// "running", "RUNNING" or "VM_STATE_RUNNING" (any case) -> VM_STATE_RUNNING.
// VM_STATE_UNSPECIFIED is not accepted.
absl::StatusOr<v1::VmState> ParseVmState(absl::string_view text);

// "auto", "kvm" or "sim" (any case, with or without the BACKEND_ prefix).
absl::StatusOr<v1::Backend> ParseBackend(absl::string_view text);

// A whole number of a flag: decimal digits only (no sign, no spaces), at
// most `max`. "-1" is refused rather than wrapped to a huge value, and a
// number past `max` rather than cut.
absl::StatusOr<uint64_t> ParseWholeNumber(absl::string_view text,
                                          uint64_t max);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PARSE_H_

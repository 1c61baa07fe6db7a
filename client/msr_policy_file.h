// Reading `vmctl msr set --file`: a vmd.v1.MsrPolicy in protobuf's canonical
// JSON mapping (field names lowerCamelCase or as in the .proto, enums as names
// or numbers, 64-bit integers as strings or numbers). Unknown fields are
// errors, so that a misspelt field is not silently dropped. Errors are
// INVALID_ARGUMENT with one-line messages.
#ifndef VMD_CLIENT_MSR_POLICY_FILE_H_
#define VMD_CLIENT_MSR_POLICY_FILE_H_

#include <istream>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::client {

// `json` -> MsrPolicy. The error is "not an MsrPolicy in canonical JSON: "
// and the JSON parser's message on one line (for a syntax error, the input
// around it quoted: `Unexpected token. near "tru}"`), or "empty; ..." for
// blank input.
absl::StatusOr<v1::MsrPolicy> ParseMsrPolicyJson(absl::string_view json);

// Reads and parses the policy at `path`; "-" reads `stdin_stream` instead.
// Errors name the flag and the file: "--file p.json: cannot read: No such
// file or directory", "--file - (stdin): not an MsrPolicy ...".
absl::StatusOr<v1::MsrPolicy> LoadMsrPolicyFile(const std::string& path,
                                                std::istream& stdin_stream);

}  // namespace vmd::client

#endif  // VMD_CLIENT_MSR_POLICY_FILE_H_

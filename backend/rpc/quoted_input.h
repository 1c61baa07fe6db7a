// User input as error messages quote it: cut to kMaxQuotedInput characters
// (with "..." and the full length) and C-escaped, so that a huge value cannot
// overflow the response metadata and control characters (newlines, ANSI
// escapes) cannot break a one-line error where it is printed.
#ifndef VMD_BACKEND_RPC_QUOTED_INPUT_H_
#define VMD_BACKEND_RPC_QUOTED_INPUT_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace vmd::rpc {

inline constexpr size_t kMaxQuotedInput = 64;

// "\"text\"", or "\"first 64...\" (N bytes)" for longer text; escaped with
// absl::CHexEscape (printable ASCII only).
std::string QuotedInput(absl::string_view text);

}  // namespace vmd::rpc

#endif  // VMD_BACKEND_RPC_QUOTED_INPUT_H_

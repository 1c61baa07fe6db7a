#include "backend/rpc/quoted_input.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace vmd::rpc {

std::string QuotedInput(absl::string_view text) {
  if (text.size() <= kMaxQuotedInput) return absl::StrCat("\"", absl::CHexEscape(text), "\"");
  return absl::StrCat("\"", absl::CHexEscape(text.substr(0, kMaxQuotedInput)), "...\" (", text.size(), " bytes)");
}

}  // namespace vmd::rpc

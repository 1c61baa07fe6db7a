#include "backend/msr/msr_text.h"

#include "absl/strings/str_cat.h"

namespace vmd::msr {

std::string MsrHex(uint64_t index) { return absl::StrCat("0x", absl::Hex(index)); }

std::string MsrSpanText(uint64_t begin, uint64_t end) {
  if (end <= begin + 1) return MsrHex(begin);
  return absl::StrCat(MsrHex(begin), "-", MsrHex(end - 1));
}

std::string RuleText(const v1::MsrRule& rule) {
  std::string access = v1::MsrAccess_Name(rule.access());
  std::string action = v1::MsrAction_Name(rule.action());
  if (access.rfind("MSR_ACCESS_", 0) == 0) access = access.substr(11);
  if (action.rfind("MSR_ACTION_", 0) == 0) action = action.substr(11);
  return absl::StrCat(MsrSpanText(rule.first(), uint64_t{rule.first()} + rule.count()), " ", access, " ", action);
}

std::string RuleListText(const std::vector<int>& rules, size_t limit) {
  std::string out;
  for (size_t i = 0; i < rules.size() && i < limit; ++i) {
    if (i > 0) out += ", ";
    out += rules[i] < 0 ? std::string("default_action") : absl::StrCat("rules[", rules[i], "]");
  }
  if (rules.size() > limit) absl::StrAppend(&out, " and ", rules.size() - limit, " more");
  return out;
}

}  // namespace vmd::msr

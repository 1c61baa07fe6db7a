#include "client/msr_output.h"

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "client/output.h"

namespace vmd::client {
namespace {

// KVM_MSR_EXIT_REASON_* (linux/kvm.h), in the order vmctl names them.
struct ExitReasonBit {
  uint32_t bit;
  const char* name;
};
constexpr ExitReasonBit kExitReasonBits[] = {
    {1u << 2, "FILTER"},
    {1u << 1, "UNKNOWN"},
    {1u << 0, "INVAL"},
};

// An enum value's proto name without `prefix`, lower case, '_' as '-'
// ("MSR_ACCESS_READ_WRITE" -> "read-write"); `fallback`-N for a number this
// build does not know (the generated _Name gives "" for those).
std::string EnumText(const std::string& proto_name, absl::string_view prefix,
                     absl::string_view fallback, int number) {
  absl::string_view name = proto_name;
  if (name.empty()) return absl::StrCat(fallback, "-", number);
  absl::ConsumePrefix(&name, prefix);
  return absl::StrReplaceAll(absl::AsciiStrToLower(name), {{"_", "-"}});
}

// `text` with each line indented by two spaces.
std::string Indent(const std::string& text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "  ", line, "\n");
  }
  return out;
}

// "title:" and the indented table, or "title: none" without rows.
std::string Section(absl::string_view title,
                    const std::vector<std::string>& header,
                    const std::vector<std::vector<std::string>>& rows) {
  if (rows.empty()) return absl::StrCat(title, ": none\n");
  return absl::StrCat(title, ":\n", Indent(RenderTable(header, rows)));
}

std::string YesNo(bool value) { return value ? "yes" : "no"; }

// The last MSR of a rule; "-" for an (invalid) empty rule.
std::string RuleLast(const v1::MsrRule& rule) {
  if (rule.count() == 0) return "-";
  return MsrHex(uint64_t{rule.first()} + rule.count() - 1);
}

}  // namespace

std::string MsrHex(uint64_t index) {
  return absl::StrCat("0x", absl::Hex(index));
}

std::string MsrActionName(v1::MsrAction action) {
  return EnumText(v1::MsrAction_Name(action), "MSR_ACTION_", "action",
                  static_cast<int>(action));
}

std::string MsrAccessName(v1::MsrAccess access) {
  return EnumText(v1::MsrAccess_Name(access), "MSR_ACCESS_", "access",
                  static_cast<int>(access));
}

std::string MsrOutcomeName(v1::MsrOutcome outcome) {
  return EnumText(v1::MsrOutcome_Name(outcome), "MSR_OUTCOME_", "outcome",
                  static_cast<int>(outcome));
}

std::string UnknownMsrActionName(v1::UnknownMsrAction action) {
  if (action == v1::UNKNOWN_MSR_ACTION_GP) return "#GP";
  return EnumText(v1::UnknownMsrAction_Name(action), "UNKNOWN_MSR_ACTION_",
                  "unknown-msrs", static_cast<int>(action));
}

std::string FormatMsrHandlerRead(const v1::MsrHandler& handler) {
  switch (handler.read()) {
    case v1::MsrHandler::READ_SOURCE_CONSTANT:
      return absl::StrCat("constant ", MsrHex(handler.constant()));
    case v1::MsrHandler::READ_SOURCE_TOPOLOGY:
      return "topology";
    case v1::MsrHandler::READ_SOURCE_LAST_WRITTEN:
      return absl::StrCat("last written (initial ", MsrHex(handler.constant()),
                          ")");
    case v1::MsrHandler::READ_SOURCE_GP:
      return "#GP";
    default:
      return EnumText(v1::MsrHandler::ReadSource_Name(handler.read()),
                      "READ_SOURCE_", "read", static_cast<int>(handler.read()));
  }
}

std::string FormatMsrHandlerWrite(const v1::MsrHandler& handler) {
  if (handler.write() == v1::MsrHandler::WRITE_ACTION_GP) return "#GP";
  return EnumText(v1::MsrHandler::WriteAction_Name(handler.write()),
                  "WRITE_ACTION_", "write", static_cast<int>(handler.write()));
}

std::string FormatMsrExitReasons(uint32_t exit_reasons) {
  std::vector<std::string> names;
  uint32_t rest = exit_reasons;
  for (const ExitReasonBit& reason : kExitReasonBits) {
    if ((exit_reasons & reason.bit) == 0) continue;
    names.push_back(reason.name);
    rest &= ~reason.bit;
  }
  if (rest != 0) names.push_back(MsrHex(rest));
  if (names.empty()) return "none";
  return absl::StrJoin(names, "|");
}

std::string RenderMsrPolicy(const v1::MsrPolicy& policy) {
  const v1::MsrAction default_action =
      policy.default_action() == v1::MSR_ACTION_UNSPECIFIED
          ? v1::MSR_ACTION_ALLOW
          : policy.default_action();
  std::string out = RenderKeyValues({
      {"default action", MsrActionName(default_action)},
      {"unknown MSRs", UnknownMsrActionName(policy.unknown_msrs())},
      {"log denials", YesNo(policy.log_denials())},
      {"preset", policy.preset().empty() ? "-" : policy.preset()},
  });

  std::vector<std::vector<std::string>> rules;
  for (int i = 0; i < policy.rules_size(); ++i) {
    const v1::MsrRule& rule = policy.rules(i);
    rules.push_back({absl::StrCat(i), MsrHex(rule.first()), RuleLast(rule),
                     MsrAccessName(rule.access()),
                     MsrActionName(rule.action())});
  }
  absl::StrAppend(
      &out,
      Section("rules", {"#", "FIRST", "LAST", "ACCESS", "ACTION"}, rules));

  std::vector<std::vector<std::string>> handlers;
  for (const v1::MsrHandler& handler : policy.handlers()) {
    handlers.push_back({MsrHex(handler.index()), FormatMsrHandlerRead(handler),
                        FormatMsrHandlerWrite(handler)});
  }
  absl::StrAppend(&out,
                  Section("handlers", {"MSR", "READ", "WRITE"}, handlers));
  return out;
}

std::string RenderSetMsrPolicyResponse(
    const v1::SetMsrPolicyResponse& response) {
  std::string out;
  for (const std::string& warning : response.warnings()) {
    absl::StrAppend(&out, "warning: ", warning, "\n");
  }
  const v1::MsrFilterSummary& filter = response.filter();
  absl::StrAppend(
      &out, "filter:\n",
      Indent(RenderKeyValues({
          {"ranges", absl::StrCat(filter.ranges())},
          {"bitmap bytes", absl::StrCat(filter.bitmap_bytes())},
          {"default deny", YesNo(filter.default_deny())},
          {"exit reasons", FormatMsrExitReasons(filter.exit_reasons())},
      })),
      RenderMsrPolicy(response.policy()));
  return out;
}

std::string RenderMsrStats(const v1::MsrStats& stats) {
  std::vector<const v1::MsrCounter*> counters;
  for (const v1::MsrCounter& counter : stats.counters()) {
    counters.push_back(&counter);
  }
  std::stable_sort(
      counters.begin(), counters.end(),
      [](const v1::MsrCounter* a, const v1::MsrCounter* b) {
        return std::make_tuple(a->index(), a->access(), a->outcome()) <
               std::make_tuple(b->index(), b->access(), b->outcome());
      });
  std::vector<std::vector<std::string>> rows;
  rows.reserve(counters.size());
  for (const v1::MsrCounter* counter : counters) {
    rows.push_back({MsrHex(counter->index()), MsrAccessName(counter->access()),
                    MsrOutcomeName(counter->outcome()),
                    absl::StrCat(counter->count())});
  }
  return absl::StrCat(RenderTable({"MSR", "ACCESS", "OUTCOME", "COUNT"}, rows),
                      "denial events: ", stats.denial_events(), " (suppressed ",
                      stats.denial_events_suppressed(), ")\n");
}

}  // namespace vmd::client

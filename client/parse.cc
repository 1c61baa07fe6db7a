#include "client/parse.h"

#include <charconv>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace vmd::client {
namespace {

// Upper-cases `text` and adds `prefix` unless already there, giving the
// proto enum value name.
std::string EnumValueName(absl::string_view text, absl::string_view prefix) {
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, prefix)) name = absl::StrCat(prefix, name);
  return name;
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(
    absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("label \"", text, "\" must be key=value"));
  }
  if (eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("label \"", text, "\" has an empty key"));
  }
  return std::make_pair(std::string(text.substr(0, eq)),
                        std::string(text.substr(eq + 1)));
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& texts) {
  std::map<std::string, std::string> labels;
  for (const std::string& text : texts) {
    absl::StatusOr<std::pair<std::string, std::string>> label =
        ParseLabel(text);
    if (!label.ok()) return label.status();
    auto [it, inserted] = labels.insert(*label);
    if (!inserted && it->second != label->second) {
      return absl::InvalidArgumentError(
          absl::StrCat("label key \"", label->first, "\" given twice (\"",
                       it->second, "\" and \"", label->second, "\")"));
    }
  }
  return labels;
}

absl::StatusOr<v1::VmState> ParseVmState(absl::string_view text) {
  v1::VmState state;
  if (text.empty() ||
      !v1::VmState_Parse(EnumValueName(text, "VM_STATE_"), &state) ||
      state == v1::VM_STATE_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown VM state \"", text,
        "\"; want created, starting, running, paused, stopping, stopped or "
        "crashed"));
  }
  return state;
}

absl::StatusOr<uint64_t> ParseWholeNumber(absl::string_view text,
                                          uint64_t max) {
  uint64_t value = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error == std::errc::invalid_argument ||
      end != text.data() + text.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "must be a whole number 0..", max, ", got \"", absl::CHexEscape(text),
        "\""));
  }
  if (error == std::errc::result_out_of_range || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("must be at most ", max, ", got ", text));
  }
  return value;
}

absl::StatusOr<v1::Backend> ParseBackend(absl::string_view text) {
  v1::Backend backend;
  if (text.empty() ||
      !v1::Backend_Parse(EnumValueName(text, "BACKEND_"), &backend) ||
      backend == v1::BACKEND_UNSPECIFIED) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown backend \"", text, "\"; want auto, kvm or sim"));
  }
  return backend;
}

}  // namespace vmd::client

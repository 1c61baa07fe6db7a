#include "backend/msr/msr_policy_validator.h"

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"
#include "backend/msr/msr_text.h"
#include "backend/rpc/error_details.h"

namespace vmd::msr {
namespace {

absl::Status Invalid(const std::string& field, const std::string& rule) { return rpc::InvalidField(field, rule); }

absl::Status ValidateRule(const v1::MsrRule& rule, size_t i) {
  const std::string field = absl::StrCat("rules[", i, "]");
  if (rule.count() == 0) return Invalid(absl::StrCat(field, ".count"), "must be at least 1");
  const uint64_t end = uint64_t{rule.first()} + rule.count();
  if (end > (uint64_t{1} << 32)) {
    return Invalid(field, absl::StrCat("first ", MsrHex(rule.first()), " + count ", rule.count(),
                                       " runs past the last MSR 0xffffffff"));
  }
  if (rule.access() == v1::MSR_ACCESS_UNSPECIFIED || !v1::MsrAccess_IsValid(rule.access())) {
    return Invalid(absl::StrCat(field, ".access"), "must be READ, WRITE or READ_WRITE");
  }
  if (rule.action() == v1::MSR_ACTION_UNSPECIFIED || !v1::MsrAction_IsValid(rule.action())) {
    return Invalid(absl::StrCat(field, ".action"), "must be ALLOW, DENY or EMULATE");
  }
  if (rule.action() != v1::MSR_ACTION_ALLOW && rule.first() <= kX2apicLast && end > kX2apicFirst) {
    return Invalid(field, absl::StrCat("covers x2APIC MSRs ", MsrSpanText(kX2apicFirst, kX2apicLast + 1),
                                       ", which KVM cannot filter"));
  }
  return absl::OkStatus();
}

absl::Status ValidateHandler(const v1::MsrHandler& handler, size_t i, const MsrTopology& topology) {
  const std::string field = absl::StrCat("handlers[", i, "]");
  if (handler.read() == v1::MsrHandler::READ_SOURCE_UNSPECIFIED ||
      !v1::MsrHandler::ReadSource_IsValid(handler.read())) {
    return Invalid(absl::StrCat(field, ".read"), "must be CONSTANT, TOPOLOGY, LAST_WRITTEN or GP");
  }
  if (!v1::MsrHandler::WriteAction_IsValid(handler.write())) {
    return Invalid(absl::StrCat(field, ".write"), "must be IGNORE, STORE, GP or ONLY_CONSTANT (unset means GP)");
  }
  if (IsX2apicMsr(handler.index())) {
    return Invalid(field, absl::StrCat("MSR ", MsrHex(handler.index()),
                                       " is an x2APIC MSR; KVM handles those itself and never exits for them"));
  }
  if (handler.read() == v1::MsrHandler::READ_SOURCE_TOPOLOGY &&
      (topology.cores == 0 || topology.cores > 0xffff || topology.threads == 0 || topology.threads > 0xffff)) {
    return Invalid(absl::StrCat(field, ".read"),
                   absl::StrCat("READ_SOURCE_TOPOLOGY needs 1-65535 cores and threads, got cores=", topology.cores,
                                " threads=", topology.threads));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateMsrPolicy(const v1::MsrPolicy& policy, const MsrTopology& topology) {
  const v1::MsrAction def = policy.default_action();
  if (def != v1::MSR_ACTION_UNSPECIFIED && def != v1::MSR_ACTION_ALLOW && def != v1::MSR_ACTION_DENY) {
    return Invalid("default_action",
                   absl::StrCat("must be ALLOW or DENY (unset means ALLOW), got ",
                                v1::MsrAction_IsValid(def) ? v1::MsrAction_Name(def) : absl::StrCat(static_cast<int>(def))));
  }
  if (!v1::UnknownMsrAction_IsValid(policy.unknown_msrs())) {
    return Invalid("unknown_msrs", absl::StrCat("undefined value ", static_cast<int>(policy.unknown_msrs())));
  }
  if (static_cast<size_t>(policy.rules_size()) > kMaxMsrRules) {
    return Invalid("rules", absl::StrCat(policy.rules_size(), " rules, at most ", kMaxMsrRules));
  }
  for (int i = 0; i < policy.rules_size(); ++i) {
    if (absl::Status s = ValidateRule(policy.rules(i), i); !s.ok()) return s;
  }
  if (static_cast<size_t>(policy.handlers_size()) > kMaxMsrHandlers) {
    return Invalid("handlers", absl::StrCat(policy.handlers_size(), " handlers, at most ", kMaxMsrHandlers));
  }
  absl::flat_hash_map<uint32_t, int> first_handler;
  for (int i = 0; i < policy.handlers_size(); ++i) {
    const v1::MsrHandler& handler = policy.handlers(i);
    if (absl::Status s = ValidateHandler(handler, i, topology); !s.ok()) return s;
    auto [it, inserted] = first_handler.emplace(handler.index(), i);
    if (!inserted) {
      return Invalid(absl::StrCat("handlers[", i, "]"), absl::StrCat("duplicate handler for MSR ", MsrHex(handler.index()),
                                                                     " (handlers[", it->second, "] has it)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace vmd::msr

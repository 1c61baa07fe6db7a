#include "daemon/core/validation.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/host/host_inventory.h"
#include "daemon/core/msr_policy.h"
#include "backend/cpu/cpu_vendor.h"
#include "backend/pmu/pmu_spec_validation.h"

namespace vmd::daemon {
namespace {

using rpc::QuotedInput;

absl::Status Invalid(const std::string& field, const std::string& rule) { return rpc::InvalidField(field, rule); }

bool IsLabelChar(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.'; }

// 0-63 label characters, alphanumeric at both ends when non-empty.
bool IsLabelText(const std::string& s) {
  if (s.size() > 63) return false;
  if (s.empty()) return true;
  for (char c : s) {
    if (!IsLabelChar(c)) return false;
  }
  return absl::ascii_isalnum(s.front()) && absl::ascii_isalnum(s.back());
}

const v1::BackendInfo* FindBackend(const v1::HostInfo& host, const std::string& name) {
  for (const v1::BackendInfo& b : host.backends()) {
    if (b.name() == name) return &b;
  }
  return nullptr;
}

}  // namespace

absl::Status ValidateName(const std::string& field, const std::string& name) {
  if (name.empty()) return Invalid(field, "is required");
  if (name.size() > 63) return Invalid(field, absl::StrCat("must be at most 63 characters, got ", name.size()));
  for (char c : name) {
    if (!(absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '-')) {
      return Invalid(field, absl::StrCat(QuotedInput(name), " must be a DNS label: only a-z, 0-9 and '-'"));
    }
  }
  if (name.front() == '-' || name.back() == '-') {
    return Invalid(field, absl::StrCat(QuotedInput(name), " must be a DNS label: start and end with a letter or digit"));
  }
  return absl::OkStatus();
}

absl::Status ValidateRequestId(const std::string& request_id) {
  if (request_id.size() > 128) return Invalid("request_id", "must be at most 128 characters");
  for (char c : request_id) {
    if (c <= ' ' || c > '~') return Invalid("request_id", "must be printable ASCII without spaces");
  }
  return absl::OkStatus();
}

absl::Status ValidateLabels(const std::string& field, const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) return Invalid(field, absl::StrCat("at most ", kMaxLabels, " labels"));
  for (const auto& [key, value] : labels) {
    if (key.empty() || !IsLabelText(key)) {
      return Invalid(absl::StrCat(field, "[", QuotedInput(key), "]"),
                     "key must be 1-63 of [A-Za-z0-9._-], starting and ending alphanumeric");
    }
    if (!IsLabelText(value)) {
      return Invalid(absl::StrCat(field, "[", QuotedInput(key), "]"),
                     "value must be 0-63 of [A-Za-z0-9._-], starting and ending alphanumeric");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateVmSpec(const v1::VmSpec& spec, const v1::HostInfo& host) {
  if (absl::Status s = ValidateName("spec.name", spec.name()); !s.ok()) return s;

  if (!v1::Backend_IsValid(spec.backend())) {
    return Invalid("spec.backend", absl::StrCat("unknown value ", spec.backend()));
  }
  const bool kvm = spec.backend() == v1::BACKEND_KVM;
  const v1::BackendInfo* backend = FindBackend(host, EffectiveBackend(spec, host));

  // An unusable backend has no known limit here: StartVm refuses it instead.
  const uint32_t max_vcpus = backend && backend->usable() ? backend->max_vcpus() : 0;
  // CreateVm has applied the defaults (vm_spec_defaults.h) by now.
  if (spec.vcpus() == 0) return Invalid("spec.vcpus", "must be at least 1");
  if (max_vcpus != 0 && spec.vcpus() > max_vcpus) {
    return Invalid("spec.vcpus", absl::StrCat("must be at most ", max_vcpus, " on this host, got ", spec.vcpus()));
  }
  if (spec.memory_mib() < kMinMemoryMib) {
    return Invalid("spec.memory_mib", absl::StrCat("must be at least ", kMinMemoryMib, ", got ", spec.memory_mib()));
  }
  if (spec.memory_mib() > host.limits().max_memory_mib()) {
    return Invalid("spec.memory_mib", absl::StrCat("must be at most ", host.limits().max_memory_mib(),
                                                   " (this host's memory), got ", spec.memory_mib()));
  }

  if (!spec.sim_profile().empty()) {
    if (kvm) return Invalid("spec.sim_profile", "applies only to backend sim or auto, not kvm");
    bool known = false;
    std::vector<std::string> names;
    for (const v1::SimProfile& p : host.sim_profiles()) {
      known |= p.name() == spec.sim_profile();
      names.push_back(p.name());
    }
    if (!known) {
      return Invalid("spec.sim_profile", absl::StrCat("unknown profile ", QuotedInput(spec.sim_profile()),
                                                      "; known: ", absl::StrJoin(names, ", ")));
    }
  }

  if (!spec.workload().empty() && spec.workload() != "idle" && spec.workload() != "counter" &&
      spec.workload() != "probe") {
    return Invalid("spec.workload",
                   absl::StrCat("unknown workload ", QuotedInput(spec.workload()), "; known: idle, counter, probe"));
  }
  if (absl::Status s = ValidateLabels("spec.labels", spec.labels()); !s.ok()) return s;
  if (!spec.cpu_vendor().empty()) {
    if (!cpu::ParseCpuVendor(spec.cpu_vendor())) {
      return Invalid("spec.cpu_vendor", absl::StrCat(QuotedInput(spec.cpu_vendor()), " is not intel or amd"));
    }
    if (EffectiveBackend(spec, host) == "sim") {
      const std::string& profile = spec.sim_profile().empty() ? host.default_sim_profile() : spec.sim_profile();
      for (const v1::SimProfile& p : host.sim_profiles()) {
        if (p.name() == profile && p.vendor() != spec.cpu_vendor()) {
          return Invalid("spec.cpu_vendor", absl::StrCat("on sim the guest is its profile's CPU: profile ", profile,
                                                         " is ", p.vendor(), "; pick a profile of that vendor"));
        }
      }
    }
  }
  if (spec.has_pmu()) {
    if (absl::Status s = pmu::ValidatePmuSpec(spec.pmu(), "spec.pmu"); !s.ok()) return s;
  }
  if (spec.has_msr_policy()) {
    if (auto compiled = CompileForVm(spec.msr_policy(), spec, "spec.msr_policy"); !compiled.ok()) {
      return compiled.status();
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateListRequest(const v1::ListVmsRequest& request) {
  if (request.page_size() < 0 || request.page_size() > kMaxPageSize) {
    return Invalid("page_size", absl::StrCat("must be 0..", kMaxPageSize, ", got ", request.page_size()));
  }
  for (int s : request.states()) {
    if (!v1::VmState_IsValid(s) || s == v1::VM_STATE_UNSPECIFIED) {
      return Invalid("states", absl::StrCat("unknown state ", s));
    }
  }
  if (!v1::VmView_IsValid(request.view())) return Invalid("view", absl::StrCat("unknown view ", request.view()));
  return ValidateLabels("label_selector", request.label_selector());
}

absl::Status ValidateStopRequest(const v1::StopVmRequest& request) {
  if (request.timeout_ms() > kMaxStopTimeoutMs) {
    return Invalid("timeout_ms", absl::StrCat("must be at most ", kMaxStopTimeoutMs, ", got ", request.timeout_ms()));
  }
  return absl::OkStatus();
}

}  // namespace vmd::daemon

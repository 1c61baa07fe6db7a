#include "client/output.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/json_util.h"
#include "client/pmu_output.h"

namespace vmd::client {
namespace {

// Display width of UTF-8 text: code points, i.e. bytes that do not continue
// a multi-byte sequence.
size_t DisplayWidth(const std::string& text) {
  return std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

bool IsSet(const google::protobuf::Timestamp& timestamp) {
  return timestamp.seconds() != 0 || timestamp.nanos() != 0;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& timestamp) {
  return absl::FromUnixSeconds(timestamp.seconds()) +
         absl::Nanoseconds(timestamp.nanos());
}

// The backend a VM runs on, or, before the engine chose, the one requested.
v1::Backend EffectiveBackend(const v1::Vm& vm) {
  return vm.status().backend() != v1::BACKEND_UNSPECIFIED
             ? vm.status().backend()
             : vm.spec().backend();
}

std::string FormatPid(int32_t pid) {
  return pid == 0 ? "-" : absl::StrCat(pid);
}

std::string FormatLabels(const v1::Vm& vm) {
  if (vm.spec().labels().empty()) return "-";
  // Proto maps have no order; sort for stable output.
  std::vector<std::pair<std::string, std::string>> labels(
      vm.spec().labels().begin(), vm.spec().labels().end());
  std::sort(labels.begin(), labels.end());
  return absl::StrJoin(labels, ",", absl::PairFormatter("="));
}

std::string FormatExit(const v1::ExitStatus& exit) {
  std::string codes = absl::StrCat("code ", exit.code(), ", signal ",
                                   exit.signal());
  if (exit.reason().empty()) return codes;
  return absl::StrCat(exit.reason(), " (", codes, ")");
}

// State for an event column: "-" when the event carries none.
std::string EventState(v1::VmState state) {
  return state == v1::VM_STATE_UNSPECIFIED ? "-" : StateName(state);
}

}  // namespace

std::string StateName(v1::VmState state) {
  absl::string_view name = v1::VmState_Name(state);
  absl::ConsumePrefix(&name, "VM_STATE_");
  // VmState_Name gives "" for numbers this build does not know.
  if (name.empty()) return absl::StrCat("state-", static_cast<int>(state));
  return absl::AsciiStrToLower(name);
}

std::string BackendName(v1::Backend backend) {
  if (backend == v1::BACKEND_UNSPECIFIED) return "auto";
  absl::string_view name = v1::Backend_Name(backend);
  absl::ConsumePrefix(&name, "BACKEND_");
  if (name.empty()) return absl::StrCat("backend-", static_cast<int>(backend));
  return absl::AsciiStrToLower(name);
}

std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  size_t columns = header.size();
  for (const auto& row : rows) columns = std::max(columns, row.size());
  std::vector<size_t> widths(columns, 0);
  auto measure = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(header);
  for (const auto& row : rows) measure(row);

  std::string out;
  auto render = [&](const std::vector<std::string>& row) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      if (i > 0) line.append(3, ' ');
      line.append(cell);
      line.append(widths[i] - DisplayWidth(cell), ' ');
    }
    absl::StripTrailingAsciiWhitespace(&line);
    absl::StrAppend(&out, line, "\n");
  };
  if (!header.empty()) render(header);
  for (const auto& row : rows) render(row);
  return out;
}

std::string RenderKeyValues(
    const std::vector<std::pair<std::string, std::string>>& lines) {
  size_t key_width = 0;
  for (const auto& [key, value] : lines) {
    key_width = std::max(key_width, DisplayWidth(key) + 1);  // With ':'.
  }
  std::string out;
  for (const auto& [key, value] : lines) {
    std::string line = absl::StrCat(key, ":");
    line.append(key_width - DisplayWidth(key) - 1, ' ');
    absl::StrAppend(&line, " ", value);
    absl::StripTrailingAsciiWhitespace(&line);
    absl::StrAppend(&out, line, "\n");
  }
  return out;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  if (!IsSet(timestamp)) return "-";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", ToAbslTime(timestamp),
                          absl::UTCTimeZone());
}

std::string FormatAge(absl::Duration age) {
  if (age < absl::ZeroDuration()) return "0s";
  if (age < absl::Minutes(1)) {
    return absl::StrCat(absl::ToInt64Seconds(age), "s");
  }
  if (age < absl::Hours(1)) {
    return absl::StrCat(absl::ToInt64Minutes(age), "m");
  }
  if (age < absl::Hours(48)) return absl::StrCat(absl::ToInt64Hours(age), "h");
  return absl::StrCat(absl::ToInt64Hours(age) / 24, "d");
}

std::string FormatMemory(uint64_t mib) {
  if (mib != 0 && mib % 1024 == 0) return absl::StrCat(mib / 1024, "GiB");
  return absl::StrCat(mib, "MiB");
}

std::string RenderVmTable(const std::vector<v1::Vm>& vms, absl::Time now) {
  std::vector<std::vector<std::string>> rows;
  rows.reserve(vms.size());
  for (const v1::Vm& vm : vms) {
    const v1::VmStatus& status = vm.status();
    rows.push_back({
        vm.spec().name(),
        StateName(status.state()),
        BackendName(EffectiveBackend(vm)),
        absl::StrCat(vm.spec().vcpus()),
        FormatMemory(vm.spec().memory_mib()),
        FormatPid(status.engine_pid()),
        IsSet(status.created_at())
            ? FormatAge(now - ToAbslTime(status.created_at()))
            : "-",
    });
  }
  return RenderTable(
      {"NAME", "STATE", "BACKEND", "VCPUS", "MEMORY", "PID", "AGE"}, rows);
}

std::string RenderVm(const v1::Vm& vm) {
  const v1::VmSpec& spec = vm.spec();
  const v1::VmStatus& status = vm.status();
  std::vector<std::pair<std::string, std::string>> lines = {
      {"name", spec.name()},
      {"id", vm.id()},
      {"state", StateName(status.state())},
      {"backend", BackendName(EffectiveBackend(vm))},
      {"vcpus", absl::StrCat(spec.vcpus())},
      {"memory", FormatMemory(spec.memory_mib())},
      {"workload", spec.workload().empty() ? "idle" : spec.workload()},
  };
  // The profile the engine reported at start, else the one asked for.
  if (!status.sim_profile().empty() || !spec.sim_profile().empty()) {
    lines.push_back({"sim profile", status.sim_profile().empty()
                                        ? spec.sim_profile()
                                        : status.sim_profile()});
  }
  if (!spec.cpu_vendor().empty()) lines.push_back({"cpu vendor", spec.cpu_vendor()});
  if (status.has_pmu_grant()) lines.push_back({"pmu", SummarizePmuGrant(status.pmu_grant())});
  lines.push_back({"labels", FormatLabels(vm)});
  lines.push_back({"engine pid", FormatPid(status.engine_pid())});
  lines.push_back({"created", FormatTimestamp(status.created_at())});
  if (IsSet(status.started_at())) {
    lines.push_back({"started", FormatTimestamp(status.started_at())});
  }
  if (IsSet(status.state_changed_at())) {
    lines.push_back(
        {"state changed", FormatTimestamp(status.state_changed_at())});
  }
  if (!status.last_error().empty()) {
    lines.push_back({"last error", status.last_error()});
  }
  if (status.has_exit()) lines.push_back({"exit", FormatExit(status.exit())});
  std::string out = RenderKeyValues(lines);
  if (status.has_exit() && !status.exit().register_dump().empty()) {
    absl::StrAppend(&out, "register dump:\n");
    for (absl::string_view line :
         absl::StrSplit(status.exit().register_dump(), '\n',
                        absl::SkipWhitespace())) {
      absl::StrAppend(&out, "  ", line, "\n");
    }
  }
  return out;
}

std::string RenderEvent(const v1::Event& event) {
  std::string new_state = EventState(event.new_state());
  if (event.type() == v1::EVENT_TYPE_DELETED &&
      event.new_state() == v1::VM_STATE_UNSPECIFIED) {
    new_state = "deleted";
  }
  const std::string time =
      IsSet(event.time())
          ? absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", ToAbslTime(event.time()),
                             absl::UTCTimeZone())
          : "-";
  std::string line = absl::StrFormat(
      "%-6d %-24s %-20s %s\u2192%s  %s", event.sequence(), time,
      event.vm_name(), EventState(event.old_state()), new_state,
      event.message());
  absl::StripTrailingAsciiWhitespace(&line);
  return absl::StrCat(line, "\n");
}

namespace {

// "title:" and then the table, indented by two.
void AppendIndentedTable(std::string* out, absl::string_view title,
                         const std::vector<std::vector<std::string>>& rows) {
  absl::StrAppend(out, title, ":\n");
  for (absl::string_view line :
       absl::StrSplit(RenderTable({}, rows), '\n', absl::SkipEmpty())) {
    absl::StrAppend(out, "  ", line, "\n");
  }
}

// SANDBOX_LAYER_KIND_MOUNT_NAMESPACE -> "mount-namespace".
std::string LayerName(v1::SandboxLayerKind kind) {
  std::string name = absl::AsciiStrToLower(absl::StripPrefix(
      v1::SandboxLayerKind_Name(kind), "SANDBOX_LAYER_KIND_"));
  std::replace(name.begin(), name.end(), '_', '-');
  return name;
}

}  // namespace

std::string RenderHostInfo(const v1::HostInfo& info) {
  std::string out = RenderKeyValues({
      {"version", info.version()},
      {"auto backend", info.auto_backend()},
      {"max vcpus", absl::StrCat(info.limits().max_vcpus())},
      {"max memory", FormatMemory(info.limits().max_memory_mib())},
  });

  std::vector<std::vector<std::string>> backends;
  for (const v1::BackendInfo& backend : info.backends()) {
    std::string state =
        backend.usable() ? "usable"
                         : absl::StrCat("unusable: ", backend.reason());
    if (backend.max_vcpus() != 0) {
      absl::StrAppend(&state, " (max ", backend.max_vcpus(), " vcpus)");
    }
    backends.push_back({backend.name(), state});
  }
  AppendIndentedTable(&out, "backends", backends);

  std::vector<std::vector<std::string>> profiles;
  for (const v1::SimProfile& profile : info.sim_profiles()) {
    profiles.push_back(
        {profile.name() == info.default_sim_profile()
             ? absl::StrCat(profile.name(), " (default)")
             : profile.name(),
         profile.description()});
  }
  AppendIndentedTable(&out, "sim profiles", profiles);
  if (info.has_pmu()) absl::StrAppend(&out, RenderHostPmu(info.pmu()));

  if (info.has_engine_sandbox()) {
    const v1::EngineSandbox& sandbox = info.engine_sandbox();
    std::vector<std::vector<std::string>> layers;
    for (const v1::SandboxLayer& layer : sandbox.layers()) {
      std::string state =
          layer.in_force() ? "in force" : "not in force";
      const std::string& why = layer.in_force() ? layer.detail() : layer.reason();
      if (!why.empty()) absl::StrAppend(&state, ": ", why);
      layers.push_back({LayerName(layer.kind()), state});
    }
    AppendIndentedTable(
        &out,
        sandbox.enabled() ? "engine sandbox (on)"
                          : "engine sandbox (off: vmd --no-sandbox)",
        layers);
  }
  return out;
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   JsonStyle style) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = style == JsonStyle::kPretty;
  options.always_print_primitive_fields = true;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot render JSON: ", status.ToString()));
  }
  // add_whitespace already ends with a newline; the compact form does not.
  if (json.empty() || json.back() != '\n') json.push_back('\n');
  return json;
}

}  // namespace vmd::client

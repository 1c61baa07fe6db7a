// Rendering of API messages for vmctl: aligned tables and "key: value" lines
// for people, protobuf's canonical JSON for programs. Pure functions of their
// arguments (the current time is a parameter), so they are unit-tested.
#ifndef VMD_CLIENT_OUTPUT_H_
#define VMD_CLIENT_OUTPUT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "google/protobuf/timestamp.pb.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::client {

// "running" for VM_STATE_RUNNING; "unspecified" for VM_STATE_UNSPECIFIED.
std::string StateName(v1::VmState state);
// "kvm", "sim", "auto" (also for BACKEND_UNSPECIFIED, which means auto).
std::string BackendName(v1::Backend backend);

// Columns left-aligned to their widest cell (header included), separated by
// three spaces; no trailing whitespace; every line ends with '\n'. Widths count
// UTF-8 code points. Short rows are padded with empty cells.
std::string RenderTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows);

// "key: value" lines with the values aligned one space after the longest key.
std::string RenderKeyValues(
    const std::vector<std::pair<std::string, std::string>>& lines);

// RFC 3339 UTC with second precision ("2024-05-01T12:00:00Z"); "-" when unset.
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);
// Coarse age: "42s", "17m", "5h" (below 48 hours), "3d". Negative is "0s".
std::string FormatAge(absl::Duration age);
// "128MiB", "4GiB" (whole GiB only).
std::string FormatMemory(uint64_t mib);

// The `list` table: NAME STATE BACKEND VCPUS MEMORY PID AGE, one row per VM
// in the given order. AGE is `now` minus created_at.
std::string RenderVmTable(const std::vector<v1::Vm>& vms, absl::Time now);
// One VM as "key: value" lines (get, create, start, ...).
std::string RenderVm(const v1::Vm& vm);
// One line per event: sequence, time (UTC, milliseconds), VM, old→new state,
// message. Ends with '\n'.
std::string RenderEvent(const v1::Event& event);
// `host`: version, auto backend, limits, backends, sim profiles.
std::string RenderHostInfo(const v1::HostInfo& info);

enum class JsonStyle {
  kPretty,  // Indented, for single responses.
  kLine,    // One line, for streams (JSON lines).
};
// Protobuf's canonical JSON mapping (lowerCamelCase names, enums as names,
// 64-bit integers as strings, timestamps as RFC 3339), printing fields with
// default values too so that every key is always present. Ends with '\n'.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   JsonStyle style);

}  // namespace vmd::client

#endif  // VMD_CLIENT_OUTPUT_H_

// Request validation. Every error is INVALID_ARGUMENT naming the field and the
// rule it breaks; validation never changes anything.
#ifndef VMD_DAEMON_CORE_VALIDATION_H_
#define VMD_DAEMON_CORE_VALIDATION_H_

#include <string>

#include "absl/status/status.h"
#include "backend/guest/guest_abi.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

inline constexpr size_t kMaxLabels = 64;
// The firmware's minimum (guest_abi.h), the one home of that number.
inline constexpr uint64_t kMinMemoryMib = VMD_MIN_MEMORY_MIB;
inline constexpr uint32_t kMaxStopTimeoutMs = 600000;
inline constexpr uint32_t kDefaultStopTimeoutMs = 10000;
inline constexpr int kMaxPageSize = 1000;
inline constexpr int kDefaultPageSize = 100;

// RFC 1123 label: 1-63 of [a-z0-9-], alphanumeric at both ends.
absl::Status ValidateName(const std::string& field, const std::string& name);
// Empty, or 1-128 printable ASCII characters without spaces.
absl::Status ValidateRequestId(const std::string& request_id);
absl::Status ValidateLabels(const std::string& field, const google::protobuf::Map<std::string, std::string>& labels);
// The whole spec, against what this host offers.
absl::Status ValidateVmSpec(const v1::VmSpec& spec, const v1::HostInfo& host);
absl::Status ValidateListRequest(const v1::ListVmsRequest& request);
absl::Status ValidateStopRequest(const v1::StopVmRequest& request);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VALIDATION_H_

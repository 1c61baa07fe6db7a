// The rules a PmuSpec must follow before any negotiation (field by field,
// INVALID_ARGUMENT naming the field). Whether the host can give it is the
// negotiation's answer, not an input error.
#ifndef VMD_BACKEND_PMU_PMU_SPEC_VALIDATION_H_
#define VMD_BACKEND_PMU_PMU_SPEC_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::pmu {

inline constexpr uint32_t kMaxPmuVersion = 5;
inline constexpr uint32_t kMaxGpCounters = 8;     // IA32_PMC0..7
inline constexpr uint32_t kMaxFixedCounters = 4;  // fixed counters 0..3
inline constexpr int kMaxFilterEvents = 300;      // KVM_PMU_EVENT_FILTER_MAX_EVENTS
inline constexpr uint32_t kMaxArchLbrDepth = 64;

// `field` is where the spec sits ("spec.pmu").
absl::Status ValidatePmuSpec(const v1::PmuSpec& spec, absl::string_view field);

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_PMU_SPEC_VALIDATION_H_

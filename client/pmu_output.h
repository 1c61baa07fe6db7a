// vmctl's rendering of PMU messages: a grant as its item table and what the
// guest sees; a host's PMU as key: value lines.
#ifndef VMD_CLIENT_PMU_OUTPUT_H_
#define VMD_CLIENT_PMU_OUTPUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::client {

// `--pmu SPEC`: "off", "host", or a vmd.v1.PmuSpec in protobuf's canonical
// JSON (INVALID_ARGUMENT naming the flag otherwise).
absl::StatusOr<v1::PmuSpec> ParsePmuSpec(const std::string& text);

std::string RenderPmuGrant(const v1::PmuGrant& grant);
// One line: "engine v5, 4 GP, fixed 1,2; as asked" (vmctl get).
std::string SummarizePmuGrant(const v1::PmuGrant& grant);
std::string RenderHostPmu(const v1::HostPmu& pmu);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PMU_OUTPUT_H_

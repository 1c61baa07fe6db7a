// Probe programs between the API (vmd.v1.RunProbeRequest) and the guest
// mailbox (guest_abi.h): validation, encoding, decoding. Used by the engine,
// and by vmd to validate before it forwards a program.
#ifndef VMD_BACKEND_PROBE_PROBE_PROGRAM_H_
#define VMD_BACKEND_PROBE_PROBE_PROGRAM_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "backend/guest/guest_abi.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::probe {

inline constexpr uint32_t kDefaultTimeoutMs = 10000;
inline constexpr uint32_t kMaxTimeoutMs = 600000;
inline constexpr uint32_t kDefaultWaitUs = 1000000;
inline constexpr uint32_t kMaxWaitUs = 10000000;
inline constexpr uint64_t kMaxSpinIterations = 1000000000;

// INVALID_ARGUMENT naming the op (`ops[3].read_memory.size`) and the rule.
// `memory_bytes` bounds guest-physical addresses.
absl::Status ValidateProbeRequest(const v1::RunProbeRequest& request, uint64_t memory_bytes);

// The mailbox ops of a valid request, results cleared.
std::vector<vmd_probe_op> EncodeProbe(const v1::RunProbeRequest& request);

// The results the guest recorded in `ops`.
v1::RunProbeResponse DecodeProbe(std::span<const vmd_probe_op> ops);

}  // namespace vmd::probe

#endif  // VMD_BACKEND_PROBE_PROBE_PROGRAM_H_

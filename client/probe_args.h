// Parsing of `vmctl probe`'s op flags (--rdmsr IDX, --cpuid LEAF[,SUBLEAF],
// ...) into vmd.v1.ProbeOps. Numbers are decimal or 0x-hex. Errors are
// INVALID_ARGUMENT naming the offending text; ParseProbeOp leaves naming the
// flag to its caller (CLI11 prefixes "--flag: "), ParseProbeOps names it.
//
// Only what cannot be sent is rejected: malformed text and numbers too wide
// for their field (and a write-mem VALUE wider than its SIZE, which the guest
// would silently truncate). The server checks the rest (vector 32-255, sizes
// 1/2/4/8, alignment, limits; probe.proto).
#ifndef VMD_CLIENT_PROBE_ARGS_H_
#define VMD_CLIENT_PROBE_ARGS_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::client {

enum class ProbeFlag {
  kRdmsr,
  kWrmsr,
  kCpuid,
  kRdtsc,
  kWaitInterrupt,
  kReadMem,
  kWriteMem,
  kSpin,
  kWriteCr4,
  kXsetbv,
};

struct ProbeFlagSpec {
  ProbeFlag flag;
  const char* name;         // "--rdmsr"
  const char* syntax;       // "IDX"; "" for --rdtsc, which takes no value.
  const char* description;  // For --help.
};

// Every op flag, in the order the help lists them.
const std::vector<ProbeFlagSpec>& ProbeFlagSpecs();
const ProbeFlagSpec& GetProbeFlagSpec(ProbeFlag flag);

// A decimal ("16") or 0x-hex ("0x10", "0X1b") number: digits only, no sign
// or spaces, at most `max`.
absl::StatusOr<uint64_t> ParseProbeNumber(
    absl::string_view text,
    uint64_t max = std::numeric_limits<uint64_t>::max());

// One flag's value -> its op: "0x1b=0xfee00900" for kWrmsr -> WrmsrOp.
// Defaults: cpuid SUBLEAF 0, wait-interrupt TIMEOUT_US 0 (server default),
// read-mem/write-mem SIZE 8. `text` is ignored for kRdtsc.
absl::StatusOr<v1::ProbeOp> ParseProbeOp(ProbeFlag flag,
                                         absl::string_view text);

// An op flag as given on the command line.
struct GivenProbeFlag {
  ProbeFlag flag;
  std::string text;  // Empty for --rdtsc.
};

// The ops in the given order. Errors start with the flag ("--rdmsr: ...");
// no flags at all is an error too.
absl::StatusOr<std::vector<v1::ProbeOp>> ParseProbeOps(
    const std::vector<GivenProbeFlag>& given);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PROBE_ARGS_H_

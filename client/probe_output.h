// Rendering of ProbeService results for vmctl's table output: `probe` and
// `bench`. Pure functions, unit-tested (JSON goes through output.h ToJson).
#ifndef VMD_CLIENT_PROBE_OUTPUT_H_
#define VMD_CLIENT_PROBE_OUTPUT_H_

#include <string>

#include "vmd/v1/probe.pb.h"

namespace vmd::client {

// "rdmsr", "wait-interrupt", ... (the flag without "--"); "?" when unset.
std::string ProbeOpName(const v1::ProbeOp& op);
// The op's arguments in its flag's syntax, addresses, MSRs, leaves and values
// in hex, vectors, sizes and counts in decimal: "0x1b=0xfee00900",
// "0xa,0x0", "32,1000" ("32" with the default timeout); "-" for rdtsc.
std::string FormatProbeArgs(const v1::ProbeOp& op);
// What `result` says about `op`: "0xfee00d00", "eax=0x.. ebx=0x.. ecx=0x..
// edx=0x..", "tsc=N", "count=N", "cycles=N", "ok" (writes), "#GP", "#UD",
// "fault vector N", "timeout", "not run".
std::string FormatProbeResult(const v1::ProbeOp& op,
                              const v1::ProbeResult& result);

// The `probe` table, `#  OP  ARGS  RESULT`, one row per op (# is the op's
// index, as in the server's "ops[i]" errors), then "backend: kvm|sim".
// Results missing from the response show "-".
std::string RenderProbeResults(const v1::RunProbeRequest& request,
                               const v1::RunProbeResponse& response);

// The `bench` table, `NAME  SAMPLES  P50 NS  P99 NS  DESCRIPTION`, one row
// per result and the raw KVM floor last, then the PIO ratio to the floor and
// the TSC frequency.
std::string RenderGuestBench(const v1::GuestBenchReport& report);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PROBE_OUTPUT_H_

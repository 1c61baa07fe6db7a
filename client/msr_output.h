// Rendering of MsrService results for vmctl's table output: `msr get`,
// `msr set` and `msr stats`. Pure functions, unit-tested (JSON goes through
// output.h ToJson). MSR numbers are hex ("0x3a"), counts decimal.
#ifndef VMD_CLIENT_MSR_OUTPUT_H_
#define VMD_CLIENT_MSR_OUTPUT_H_

#include <cstdint>
#include <string>

#include "vmd/v1/msr.pb.h"

namespace vmd::client {

// "0x3a".
std::string MsrHex(uint64_t index);
// "allow", "deny", "emulate"; "unspecified"; "action-N" for numbers this
// build does not know.
std::string MsrActionName(v1::MsrAction action);
// "read", "write", "read-write"; "unspecified"; "access-N".
std::string MsrAccessName(v1::MsrAccess access);
// "denied", "emulated", "unhandled"; "unspecified"; "outcome-N".
std::string MsrOutcomeName(v1::MsrOutcome outcome);
// "#GP" (KVM's answer) or "emulate"; "unknown-msrs-N".
std::string UnknownMsrActionName(v1::UnknownMsrAction action);
// How a handler answers reads: "constant 0x10", "topology", "last written
// (initial 0x0)", "#GP"; "unspecified"; "read-N".
std::string FormatMsrHandlerRead(const v1::MsrHandler& handler);
// How a handler takes writes: "ignore", "store", "#GP"; "unspecified";
// "write-N".
std::string FormatMsrHandlerWrite(const v1::MsrHandler& handler);
// The KVM_MSR_EXIT_REASON_* bits by name, "FILTER|UNKNOWN|INVAL" order,
// undefined bits last in hex ("FILTER|0x8"); "none" for 0.
std::string FormatMsrExitReasons(uint32_t exit_reasons);

// `msr get`: "default action", "unknown MSRs", "log denials" and "preset"
// lines, then the rules ("#  FIRST  LAST  ACCESS  ACTION", in policy order)
// and the handlers ("MSR  READ  WRITE") as indented tables, or "rules: none"
// / "handlers: none". An unset default action reads "allow", as it means.
std::string RenderMsrPolicy(const v1::MsrPolicy& policy);

// `msr set`: one "warning: ..." line per warning, the filter summary
// ("filter:" and indented ranges, bitmap bytes, default deny, exit reasons),
// then the stored policy as RenderMsrPolicy.
std::string RenderSetMsrPolicyResponse(
    const v1::SetMsrPolicyResponse& response);

// `msr stats`: "MSR  ACCESS  OUTCOME  COUNT", sorted by MSR, then access
// (read first), then outcome; then "denial events: N (suppressed M)".
std::string RenderMsrStats(const v1::MsrStats& stats);

}  // namespace vmd::client

#endif  // VMD_CLIENT_MSR_OUTPUT_H_

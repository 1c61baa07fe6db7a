// vmctl's command line: parses the global flags and the arguments (CLI11),
// runs the command and maps the outcome to an exit status. The commands are
// defined one file per service (vm_commands.h, host_commands.h,
// probe_commands.h, msr_commands.h).
#ifndef VMD_CLIENT_VMCTL_APP_H_
#define VMD_CLIENT_VMCTL_APP_H_

#include <istream>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace vmd::client {

// vmctl's exit statuses. A signal that ends a non-streaming command exits
// with 128 + the signal number (interrupt.h).
inline constexpr int kExitOk = 0;
inline constexpr int kExitCallFailed = 1;  // The server (or the call) failed.
inline constexpr int kExitUsage = 2;       // Bad arguments; nothing was sent.

// Runs vmctl with `argv` (argv[0] is the program name), writing results and
// help to `out` and diagnostics to `err`; `in` is read only by `msr set
// --file -`. Returns the exit status.
int RunVmctl(int argc, const char* const* argv, std::istream& in,
             std::ostream& out, std::ostream& err);

// The single stderr line for a failed call, without the trailing newline:
// "vmctl: <CODE>: <message>", the message on one line. `address` is named
// when `unreachable` (the daemon could not be reached at all).
std::string FormatCallError(const absl::Status& status,
                            const std::string& address, bool unreachable);

}  // namespace vmd::client

#endif  // VMD_CLIENT_VMCTL_APP_H_

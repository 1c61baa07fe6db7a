// vmctl's commands: each makes its call(s) with a VmdClient and prints the
// result with a Printer. They return the call's error unchanged (or a
// printing error); the caller turns it into the exit status and message.
#ifndef VMD_CLIENT_COMMANDS_H_
#define VMD_CLIENT_COMMANDS_H_

#include "absl/status/status.h"
#include "client/printer.h"
#include "client/vmd_client.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/probe.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::client {

absl::Status RunCreate(VmdClient& client, const v1::CreateVmRequest& request,
                       Printer& printer);
absl::Status RunGet(VmdClient& client, const v1::GetVmRequest& request,
                    Printer& printer);
// With `all_pages`, follows next_page_token from request.page_token() to the
// end and prints every VM as one response; otherwise prints the one page
// (with its next page token).
absl::Status RunList(VmdClient& client, const v1::ListVmsRequest& request,
                     bool all_pages, Printer& printer);
absl::Status RunStart(VmdClient& client, const v1::StartVmRequest& request,
                      Printer& printer);
absl::Status RunPause(VmdClient& client, const v1::PauseVmRequest& request,
                      Printer& printer);
absl::Status RunResume(VmdClient& client, const v1::ResumeVmRequest& request,
                       Printer& printer);
absl::Status RunStop(VmdClient& client, const v1::StopVmRequest& request,
                     Printer& printer);
absl::Status RunDelete(VmdClient& client, const v1::DeleteVmRequest& request,
                       Printer& printer);
// Follows the stream until the server ends it or SIGINT/SIGTERM arrives
// (see interrupt.h); both are success.
absl::Status RunEvents(VmdClient& client,
                       const v1::WatchEventsRequest& request,
                       Printer& printer);
absl::Status RunConsole(VmdClient& client,
                        const v1::StreamConsoleRequest& request,
                        Printer& printer);
absl::Status RunHost(VmdClient& client, Printer& printer);
absl::Status RunProbe(VmdClient& client, const v1::RunProbeRequest& request,
                      Printer& printer);
absl::Status RunBench(VmdClient& client,
                      const v1::RunGuestBenchRequest& request,
                      Printer& printer);
absl::Status RunMsrGet(VmdClient& client,
                       const v1::GetMsrPolicyRequest& request,
                       Printer& printer);
absl::Status RunMsrSet(VmdClient& client,
                       const v1::SetMsrPolicyRequest& request,
                       Printer& printer);
absl::Status RunMsrStats(VmdClient& client,
                         const v1::GetMsrStatsRequest& request,
                         Printer& printer);

}  // namespace vmd::client

#endif  // VMD_CLIENT_COMMANDS_H_

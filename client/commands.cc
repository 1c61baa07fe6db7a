#include "client/commands.h"

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "client/interrupt.h"

namespace vmd::client {
namespace {

absl::Status PrintVmResult(const absl::StatusOr<v1::Vm>& vm,
                           Printer& printer) {
  if (!vm.ok()) return vm.status();
  return printer.PrintVm(*vm);
}

// Streams with `call(on_message, canceller)`, printing each message with
// `print`. Ctrl-C cancels the stream; a print failure stops it.
template <typename Message, typename Call, typename Print>
absl::Status FollowStream(Call call, Print print) {
  StreamCanceller canceller;
  CancelOnInterrupt cancel_on_interrupt(&canceller);
  absl::Status print_status;
  absl::Status status = call(
      [&](const Message& message) {
        print_status = print(message);
        return print_status.ok();
      },
      &canceller);
  if (!status.ok()) return status;
  return print_status;
}

}  // namespace

absl::Status RunCreate(VmdClient& client, const v1::CreateVmRequest& request,
                       Printer& printer) {
  return PrintVmResult(client.CreateVm(request), printer);
}

absl::Status RunGet(VmdClient& client, const v1::GetVmRequest& request,
                    Printer& printer) {
  return PrintVmResult(client.GetVm(request), printer);
}

absl::Status RunList(VmdClient& client, const v1::ListVmsRequest& request,
                     bool all_pages, Printer& printer) {
  if (!all_pages) {
    absl::StatusOr<v1::ListVmsResponse> page = client.ListVms(request);
    if (!page.ok()) return page.status();
    return printer.PrintVmList(*page);
  }
  absl::StatusOr<std::vector<v1::Vm>> vms = client.ListAllVms(request);
  if (!vms.ok()) return vms.status();
  v1::ListVmsResponse all;
  for (v1::Vm& vm : *vms) *all.add_vms() = std::move(vm);
  return printer.PrintVmList(all);
}

absl::Status RunStart(VmdClient& client, const v1::StartVmRequest& request,
                      Printer& printer) {
  return PrintVmResult(client.StartVm(request), printer);
}

absl::Status RunPause(VmdClient& client, const v1::PauseVmRequest& request,
                      Printer& printer) {
  return PrintVmResult(client.PauseVm(request), printer);
}

absl::Status RunResume(VmdClient& client, const v1::ResumeVmRequest& request,
                       Printer& printer) {
  return PrintVmResult(client.ResumeVm(request), printer);
}

absl::Status RunStop(VmdClient& client, const v1::StopVmRequest& request,
                     Printer& printer) {
  return PrintVmResult(client.StopVm(request), printer);
}

absl::Status RunDelete(VmdClient& client, const v1::DeleteVmRequest& request,
                       Printer& printer) {
  absl::StatusOr<v1::DeleteVmResponse> response = client.DeleteVm(request);
  if (!response.ok()) return response.status();
  return printer.PrintDeleted(request.name(), *response);
}

absl::Status RunEvents(VmdClient& client,
                       const v1::WatchEventsRequest& request,
                       Printer& printer) {
  return FollowStream<v1::Event>(
      [&](auto on_event, StreamCanceller* canceller) {
        return client.WatchEvents(request, on_event, canceller);
      },
      [&](const v1::Event& event) { return printer.PrintEvent(event); });
}

absl::Status RunConsole(VmdClient& client,
                        const v1::StreamConsoleRequest& request,
                        Printer& printer) {
  return FollowStream<v1::ConsoleChunk>(
      [&](auto on_chunk, StreamCanceller* canceller) {
        return client.StreamConsole(request, on_chunk, canceller);
      },
      [&](const v1::ConsoleChunk& chunk) {
        return printer.PrintConsoleChunk(chunk);
      });
}

absl::Status RunHost(VmdClient& client, Printer& printer) {
  absl::StatusOr<v1::HostInfo> info = client.GetHostInfo();
  if (!info.ok()) return info.status();
  return printer.PrintHostInfo(*info);
}

absl::Status RunProbe(VmdClient& client, const v1::RunProbeRequest& request,
                      Printer& printer) {
  absl::StatusOr<v1::RunProbeResponse> response = client.RunProbe(request);
  if (!response.ok()) return response.status();
  return printer.PrintProbeResults(request, *response);
}

absl::Status RunBench(VmdClient& client,
                      const v1::RunGuestBenchRequest& request,
                      Printer& printer) {
  absl::StatusOr<v1::GuestBenchReport> report = client.RunGuestBench(request);
  if (!report.ok()) return report.status();
  return printer.PrintGuestBench(*report);
}

absl::Status RunMsrGet(VmdClient& client,
                       const v1::GetMsrPolicyRequest& request,
                       Printer& printer) {
  absl::StatusOr<v1::MsrPolicy> policy = client.GetMsrPolicy(request);
  if (!policy.ok()) return policy.status();
  return printer.PrintMsrPolicy(*policy);
}

absl::Status RunMsrSet(VmdClient& client,
                       const v1::SetMsrPolicyRequest& request,
                       Printer& printer) {
  absl::StatusOr<v1::SetMsrPolicyResponse> response =
      client.SetMsrPolicy(request);
  if (!response.ok()) return response.status();
  return printer.PrintSetMsrPolicyResponse(*response);
}

absl::Status RunMsrStats(VmdClient& client,
                         const v1::GetMsrStatsRequest& request,
                         Printer& printer) {
  absl::StatusOr<v1::MsrStats> stats = client.GetMsrStats(request);
  if (!stats.ok()) return stats.status();
  return printer.PrintMsrStats(*stats);
}

}  // namespace vmd::client

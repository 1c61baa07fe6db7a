// Writes vmctl's results in the chosen output format: the human renderings
// of output.h for `table`, canonical protobuf JSON for `json`.
#ifndef VMD_CLIENT_PRINTER_H_
#define VMD_CLIENT_PRINTER_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "vmd/v1/host.pb.h"
#include "vmd/v1/msr.pb.h"
#include "vmd/v1/pmu.pb.h"
#include "vmd/v1/probe.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::client {

enum class OutputFormat { kTable, kJson };

class Printer {
 public:
  // `out` must outlive the printer. `now` is the reference for list ages.
  Printer(OutputFormat format, std::ostream* out, absl::Time now);

  OutputFormat format() const { return format_; }

  // One VM: "key: value" lines, or a pretty JSON Vm object.
  absl::Status PrintVm(const v1::Vm& vm);
  // The list table, followed by "next page token: T" when the response has
  // one; or the ListVmsResponse as pretty JSON.
  absl::Status PrintVmList(const v1::ListVmsResponse& response);
  // "deleted: NAME", or the (empty) DeleteVmResponse as JSON.
  absl::Status PrintDeleted(const std::string& name,
                            const v1::DeleteVmResponse& response);
  // One line per event, flushed: a table line or a one-line JSON Event.
  absl::Status PrintEvent(const v1::Event& event);
  // The raw console bytes, or a one-line JSON ConsoleChunk; flushed.
  absl::Status PrintConsoleChunk(const v1::ConsoleChunk& chunk);
  absl::Status PrintHostInfo(const v1::HostInfo& info);
  // The probe table (one row per op of `request`), or the RunProbeResponse
  // as pretty JSON.
  absl::Status PrintProbeResults(const v1::RunProbeRequest& request,
                                 const v1::RunProbeResponse& response);
  // The bench table and summary lines, or the GuestBenchReport as JSON.
  absl::Status PrintGuestBench(const v1::GuestBenchReport& report);
  // `msr get`: the policy (msr_output.h), or the MsrPolicy as JSON.
  absl::Status PrintMsrPolicy(const v1::MsrPolicy& policy);
  // `msr set`: warnings, filter summary and stored policy, all on `out`; or
  // the SetMsrPolicyResponse (warnings included) as JSON.
  absl::Status PrintSetMsrPolicyResponse(
      const v1::SetMsrPolicyResponse& response);
  // `msr stats`: the sorted counters table and the denial events line, or
  // the MsrStats as JSON (counters in the server's order).
  absl::Status PrintMsrStats(const v1::MsrStats& stats);
  // `pmu negotiate|get`: the grant's items and the guest's view, or the
  // PmuGrant as JSON.
  absl::Status PrintPmuGrant(const v1::PmuGrant& grant);
  // `pmu host`: the kvm host's PMU and each profile's, or the HostInfo as
  // JSON.
  absl::Status PrintHostPmu(const v1::HostInfo& info);

 private:
  absl::Status PrintJson(const google::protobuf::Message& message,
                         bool one_line);

  OutputFormat format_;
  std::ostream* out_;
  absl::Time now_;
};

}  // namespace vmd::client

#endif  // VMD_CLIENT_PRINTER_H_

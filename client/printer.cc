#include "client/printer.h"

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "client/msr_output.h"
#include "client/output.h"
#include "client/pmu_output.h"
#include "client/probe_output.h"

namespace vmd::client {

Printer::Printer(OutputFormat format, std::ostream* out, absl::Time now)
    : format_(format), out_(out), now_(now) {}

absl::Status Printer::PrintJson(const google::protobuf::Message& message,
                                bool one_line) {
  absl::StatusOr<std::string> json =
      ToJson(message, one_line ? JsonStyle::kLine : JsonStyle::kPretty);
  if (!json.ok()) return json.status();
  *out_ << *json << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintVm(const v1::Vm& vm) {
  if (format_ == OutputFormat::kJson) return PrintJson(vm, false);
  *out_ << RenderVm(vm) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintVmList(const v1::ListVmsResponse& response) {
  if (format_ == OutputFormat::kJson) return PrintJson(response, false);
  const std::vector<v1::Vm> vms(response.vms().begin(), response.vms().end());
  *out_ << RenderVmTable(vms, now_);
  if (!response.next_page_token().empty()) {
    *out_ << "next page token: " << response.next_page_token() << "\n";
  }
  *out_ << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintDeleted(const std::string& name,
                                   const v1::DeleteVmResponse& response) {
  if (format_ == OutputFormat::kJson) return PrintJson(response, false);
  *out_ << RenderKeyValues({{"deleted", name}}) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintEvent(const v1::Event& event) {
  if (format_ == OutputFormat::kJson) return PrintJson(event, true);
  *out_ << RenderEvent(event) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintConsoleChunk(const v1::ConsoleChunk& chunk) {
  if (format_ == OutputFormat::kJson) return PrintJson(chunk, true);
  out_->write(chunk.data().data(),
              static_cast<std::streamsize>(chunk.data().size()));
  out_->flush();
  return absl::OkStatus();
}

absl::Status Printer::PrintHostInfo(const v1::HostInfo& info) {
  if (format_ == OutputFormat::kJson) return PrintJson(info, false);
  *out_ << RenderHostInfo(info) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintProbeResults(const v1::RunProbeRequest& request,
                                        const v1::RunProbeResponse& response) {
  if (format_ == OutputFormat::kJson) return PrintJson(response, false);
  *out_ << RenderProbeResults(request, response) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintGuestBench(const v1::GuestBenchReport& report) {
  if (format_ == OutputFormat::kJson) return PrintJson(report, false);
  *out_ << RenderGuestBench(report) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintMsrPolicy(const v1::MsrPolicy& policy) {
  if (format_ == OutputFormat::kJson) return PrintJson(policy, false);
  *out_ << RenderMsrPolicy(policy) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintSetMsrPolicyResponse(
    const v1::SetMsrPolicyResponse& response) {
  if (format_ == OutputFormat::kJson) return PrintJson(response, false);
  *out_ << RenderSetMsrPolicyResponse(response) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintMsrStats(const v1::MsrStats& stats) {
  if (format_ == OutputFormat::kJson) return PrintJson(stats, false);
  *out_ << RenderMsrStats(stats) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintPmuGrant(const v1::PmuGrant& grant) {
  if (format_ == OutputFormat::kJson) return PrintJson(grant, false);
  *out_ << RenderPmuGrant(grant) << std::flush;
  return absl::OkStatus();
}

absl::Status Printer::PrintHostPmu(const v1::HostInfo& info) {
  if (format_ == OutputFormat::kJson) return PrintJson(info, false);
  *out_ << "kvm host:\n" << RenderHostPmu(info.pmu());
  for (const v1::SimProfile& p : info.sim_profiles()) *out_ << "\nsim " << p.name() << ":\n" << RenderHostPmu(p.pmu());
  *out_ << std::flush;
  return absl::OkStatus();
}

}  // namespace vmd::client

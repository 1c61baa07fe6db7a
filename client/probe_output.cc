#include "client/probe_output.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/output.h"

namespace vmd::client {
namespace {

constexpr uint32_t kVectorUd = 6;
constexpr uint32_t kVectorGp = 13;

std::string Hex(uint64_t value) { return absl::StrCat("0x", absl::Hex(value)); }

// How many values a successful op carries (probe.proto ProbeResult.values).
int ExpectedValues(const v1::ProbeOp& op) {
  switch (op.op_case()) {
    case v1::ProbeOp::kCpuid:
      return 4;
    case v1::ProbeOp::kRdmsr:
    case v1::ProbeOp::kRdtsc:
    case v1::ProbeOp::kWaitInterrupt:
    case v1::ProbeOp::kReadMemory:
    case v1::ProbeOp::kSpin:
    case v1::ProbeOp::kWriteCr4:
      return 1;
    default:
      return 0;
  }
}

// A successful op's values.
std::string FormatOkValues(const v1::ProbeOp& op,
                           const v1::ProbeResult& result) {
  const auto& v = result.values();
  if (v.size() != ExpectedValues(op) ||
      op.op_case() == v1::ProbeOp::OP_NOT_SET) {
    // Not what the op returns: show what came, rather than guess.
    if (v.empty()) return "ok";
    std::vector<std::string> values;
    for (uint64_t value : v) values.push_back(Hex(value));
    return absl::StrCat("ok values=", absl::StrJoin(values, ","));
  }
  switch (op.op_case()) {
    case v1::ProbeOp::kRdmsr:
    case v1::ProbeOp::kReadMemory:
      return Hex(v[0]);
    case v1::ProbeOp::kCpuid:
      return absl::StrCat("eax=", Hex(v[0]), " ebx=", Hex(v[1]),
                          " ecx=", Hex(v[2]), " edx=", Hex(v[3]));
    case v1::ProbeOp::kRdtsc:
      return absl::StrCat("tsc=", v[0]);
    case v1::ProbeOp::kWaitInterrupt:
      return absl::StrCat("count=", v[0]);
    case v1::ProbeOp::kSpin:
      return absl::StrCat("cycles=", v[0]);
    case v1::ProbeOp::kWriteCr4:
      return absl::StrCat("cr4=", Hex(v[0]));
    default:
      return "ok";  // wrmsr, write-mem.
  }
}

// NAME SAMPLES P50 P99 (whole nanoseconds) P50 P99 (guest TSC cycles)
// DESCRIPTION.
std::vector<std::string> LatencyRow(const v1::LatencyFigures& figures) {
  return {figures.name().empty() ? "-" : figures.name(),
          absl::StrCat(figures.samples()),
          absl::StrFormat("%.0f", figures.p50_ns()),
          absl::StrFormat("%.0f", figures.p99_ns()),
          absl::StrCat(figures.p50_cycles()),
          absl::StrCat(figures.p99_cycles()),
          figures.description()};
}

}  // namespace

std::string ProbeOpName(const v1::ProbeOp& op) {
  switch (op.op_case()) {
    case v1::ProbeOp::kRdmsr:
      return "rdmsr";
    case v1::ProbeOp::kWrmsr:
      return "wrmsr";
    case v1::ProbeOp::kCpuid:
      return "cpuid";
    case v1::ProbeOp::kRdtsc:
      return "rdtsc";
    case v1::ProbeOp::kWaitInterrupt:
      return "wait-interrupt";
    case v1::ProbeOp::kReadMemory:
      return "read-mem";
    case v1::ProbeOp::kWriteMemory:
      return "write-mem";
    case v1::ProbeOp::kSpin:
      return "spin";
    case v1::ProbeOp::kWriteCr4:
      return "write-cr4";
    case v1::ProbeOp::kXsetbv:
      return "xsetbv";
    case v1::ProbeOp::OP_NOT_SET:
      break;
  }
  return "?";
}

std::string FormatProbeArgs(const v1::ProbeOp& op) {
  switch (op.op_case()) {
    case v1::ProbeOp::kRdmsr:
      return Hex(op.rdmsr().index());
    case v1::ProbeOp::kWrmsr:
      return absl::StrCat(Hex(op.wrmsr().index()), "=",
                          Hex(op.wrmsr().value()));
    case v1::ProbeOp::kCpuid:
      return absl::StrCat(Hex(op.cpuid().leaf()), ",",
                          Hex(op.cpuid().subleaf()));
    case v1::ProbeOp::kWaitInterrupt: {
      const v1::WaitInterruptOp& wait = op.wait_interrupt();
      if (wait.timeout_us() == 0) return absl::StrCat(wait.vector());
      return absl::StrCat(wait.vector(), ",", wait.timeout_us());
    }
    case v1::ProbeOp::kReadMemory:
      return absl::StrCat(Hex(op.read_memory().address()), ",",
                          op.read_memory().size());
    case v1::ProbeOp::kWriteMemory:
      return absl::StrCat(Hex(op.write_memory().address()), "=",
                          Hex(op.write_memory().value()), ",",
                          op.write_memory().size());
    case v1::ProbeOp::kSpin:
      return absl::StrCat(op.spin().iterations());
    case v1::ProbeOp::kWriteCr4:
      return Hex(op.write_cr4().value());
    case v1::ProbeOp::kXsetbv:
      return absl::StrCat(op.xsetbv().xcr(), "=", Hex(op.xsetbv().value()));
    case v1::ProbeOp::kRdtsc:
    case v1::ProbeOp::OP_NOT_SET:
      break;
  }
  return "-";
}

std::string FormatProbeResult(const v1::ProbeOp& op,
                              const v1::ProbeResult& result) {
  switch (result.outcome()) {
    case v1::PROBE_OUTCOME_OK:
      return FormatOkValues(op, result);
    case v1::PROBE_OUTCOME_FAULT:
      if (result.vector() == kVectorGp) return "#GP";
      if (result.vector() == kVectorUd) return "#UD";
      return absl::StrCat("fault vector ", result.vector());
    case v1::PROBE_OUTCOME_TIMEOUT:
      return "timeout";
    case v1::PROBE_OUTCOME_UNSPECIFIED:
      return "not run";
    default:
      return absl::StrCat("outcome ", static_cast<int>(result.outcome()));
  }
}

std::string RenderProbeResults(const v1::RunProbeRequest& request,
                               const v1::RunProbeResponse& response) {
  const int count = std::max(request.ops_size(), response.results_size());
  std::vector<std::vector<std::string>> rows;
  rows.reserve(count);
  for (int i = 0; i < count; ++i) {
    // A result without an op (a broken server) is shown against no op.
    const v1::ProbeOp& op = i < request.ops_size()
                                ? request.ops(i)
                                : v1::ProbeOp::default_instance();
    rows.push_back({absl::StrCat(i), ProbeOpName(op), FormatProbeArgs(op),
                    i < response.results_size()
                        ? FormatProbeResult(op, response.results(i))
                        : "-"});
  }
  return absl::StrCat(
      RenderTable({"#", "OP", "ARGS", "RESULT"}, rows),
      "backend: ", response.backend().empty() ? "-" : response.backend(), "\n");
}

std::string RenderGuestBench(const v1::GuestBenchReport& report) {
  std::vector<std::vector<std::string>> rows;
  for (const v1::LatencyFigures& figures : report.results()) {
    rows.push_back(LatencyRow(figures));
  }
  if (report.has_raw_kvm_floor()) {
    rows.push_back(LatencyRow(report.raw_kvm_floor()));
  }
  const std::string ratio =
      report.pio_ratio_to_floor() > 0
          ? absl::StrFormat("%.2fx", report.pio_ratio_to_floor())
          : "-";
  return absl::StrCat(
      RenderTable({"NAME", "SAMPLES", "P50 NS", "P99 NS", "P50 CYCLES", "P99 CYCLES", "DESCRIPTION"}, rows),
      "pio ratio to floor: ", ratio, " (target <= 1.2)\n",
      "tsc: ", report.tsc_khz(), " kHz\n");
}

}  // namespace vmd::client

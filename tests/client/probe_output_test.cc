#include "client/probe_output.h"

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"

namespace vmd::client {
namespace {

using ::vmd::testing::Parse;

v1::ProbeOp Op(const std::string& text) { return Parse<v1::ProbeOp>(text); }
v1::ProbeResult Result(const std::string& text) {
  return Parse<v1::ProbeResult>(text);
}

TEST(ProbeOpNameTest, TheFlagWithoutDashes) {
  EXPECT_EQ(ProbeOpName(Op("rdmsr {}")), "rdmsr");
  EXPECT_EQ(ProbeOpName(Op("wrmsr {}")), "wrmsr");
  EXPECT_EQ(ProbeOpName(Op("cpuid {}")), "cpuid");
  EXPECT_EQ(ProbeOpName(Op("rdtsc {}")), "rdtsc");
  EXPECT_EQ(ProbeOpName(Op("wait_interrupt {}")), "wait-interrupt");
  EXPECT_EQ(ProbeOpName(Op("read_memory {}")), "read-mem");
  EXPECT_EQ(ProbeOpName(Op("write_memory {}")), "write-mem");
  EXPECT_EQ(ProbeOpName(Op("spin {}")), "spin");
  EXPECT_EQ(ProbeOpName(v1::ProbeOp()), "?");
}

TEST(FormatProbeArgsTest, InTheFlagSyntax) {
  EXPECT_EQ(FormatProbeArgs(Op("rdmsr { index: 16 }")), "0x10");
  EXPECT_EQ(FormatProbeArgs(Op("wrmsr { index: 0x1b value: 0xfee00900 }")),
            "0x1b=0xfee00900");
  EXPECT_EQ(FormatProbeArgs(Op("cpuid { leaf: 10 }")), "0xa,0x0");
  EXPECT_EQ(FormatProbeArgs(Op("rdtsc {}")), "-");
  EXPECT_EQ(FormatProbeArgs(Op("wait_interrupt { vector: 32 }")), "32");
  EXPECT_EQ(
      FormatProbeArgs(Op("wait_interrupt { vector: 236 timeout_us: 500 }")),
      "236,500");
  EXPECT_EQ(FormatProbeArgs(Op("read_memory { address: 4096 size: 8 }")),
            "0x1000,8");
  EXPECT_EQ(FormatProbeArgs(
                Op("write_memory { address: 4096 value: 255 size: 1 }")),
            "0x1000=0xff,1");
  EXPECT_EQ(FormatProbeArgs(Op("spin { iterations: 1000000 }")), "1000000");
  EXPECT_EQ(FormatProbeArgs(v1::ProbeOp()), "-");
}

TEST(FormatProbeResultTest, Values) {
  const v1::ProbeResult one =
      Result("outcome: PROBE_OUTCOME_OK values: 0xfee00d00");
  EXPECT_EQ(FormatProbeResult(Op("rdmsr {}"), one), "0xfee00d00");
  EXPECT_EQ(FormatProbeResult(Op("read_memory {}"), one), "0xfee00d00");
  EXPECT_EQ(FormatProbeResult(Op("rdtsc {}"), one), "tsc=4276096256");
  EXPECT_EQ(FormatProbeResult(Op("wait_interrupt {}"), one),
            "count=4276096256");
  EXPECT_EQ(FormatProbeResult(Op("spin {}"), one), "cycles=4276096256");
  EXPECT_EQ(FormatProbeResult(
                Op("cpuid {}"),
                Result("outcome: PROBE_OUTCOME_OK values: [0x16, 0x756e6547, "
                       "0x6c65746e, 0x49656e69]")),
            "eax=0x16 ebx=0x756e6547 ecx=0x6c65746e edx=0x49656e69");
}

TEST(FormatProbeResultTest, WritesAreOk) {
  const v1::ProbeResult ok = Result("outcome: PROBE_OUTCOME_OK");
  EXPECT_EQ(FormatProbeResult(Op("wrmsr {}"), ok), "ok");
  EXPECT_EQ(FormatProbeResult(Op("write_memory {}"), ok), "ok");
}

TEST(FormatProbeResultTest, FaultsTimeoutsAndOpsNotRun) {
  EXPECT_EQ(FormatProbeResult(
                Op("rdmsr {}"),
                Result("outcome: PROBE_OUTCOME_FAULT vector: 13")),
            "#GP");
  EXPECT_EQ(FormatProbeResult(
                Op("wrmsr {}"),
                Result("outcome: PROBE_OUTCOME_FAULT vector: 6")),
            "#UD");
  EXPECT_EQ(FormatProbeResult(
                Op("read_memory {}"),
                Result("outcome: PROBE_OUTCOME_FAULT vector: 14")),
            "fault vector 14");
  EXPECT_EQ(FormatProbeResult(
                Op("rdmsr {}"),
                Result("outcome: PROBE_OUTCOME_FAULT vector: 0")),
            "fault vector 0");
  EXPECT_EQ(FormatProbeResult(Op("wait_interrupt {}"),
                              Result("outcome: PROBE_OUTCOME_TIMEOUT")),
            "timeout");
  EXPECT_EQ(FormatProbeResult(Op("rdmsr {}"), v1::ProbeResult()), "not run");
  v1::ProbeResult unknown;
  unknown.set_outcome(static_cast<v1::ProbeOutcome>(9));
  EXPECT_EQ(FormatProbeResult(Op("rdmsr {}"), unknown), "outcome 9");
}

TEST(FormatProbeResultTest, UnexpectedValuesAreShownAsTheyCame) {
  EXPECT_EQ(FormatProbeResult(
                Op("cpuid {}"),
                Result("outcome: PROBE_OUTCOME_OK values: [1, 0x20]")),
            "ok values=0x1,0x20");
  EXPECT_EQ(FormatProbeResult(Op("rdmsr {}"),
                              Result("outcome: PROBE_OUTCOME_OK")),
            "ok");
  EXPECT_EQ(FormatProbeResult(
                Op("wrmsr {}"),
                Result("outcome: PROBE_OUTCOME_OK values: 7")),
            "ok values=0x7");
}

TEST(RenderProbeResultsTest, OneRowPerOpThenTheBackend) {
  const auto request = Parse<v1::RunProbeRequest>(R"pb(
    name: "vm1"
    ops { rdmsr { index: 0x10 } }
    ops { wrmsr { index: 0x1b value: 0xfee00900 } }
    ops { rdmsr { index: 0x1b } }
    ops { cpuid { leaf: 0xa } }
    ops { rdmsr { index: 0x4b564d00 } }
    ops { wrmsr { index: 0xc0000080 value: 0x1 } }
    ops { wait_interrupt { vector: 236 timeout_us: 1000 } }
    ops { spin { iterations: 1000 } }
  )pb");
  const auto response = Parse<v1::RunProbeResponse>(R"pb(
    results { outcome: PROBE_OUTCOME_OK values: 123456 }
    results { outcome: PROBE_OUTCOME_OK }
    results { outcome: PROBE_OUTCOME_OK values: 0xfee00d00 }
    results {
      outcome: PROBE_OUTCOME_OK
      values: [ 0x8300805, 0, 0, 0x603 ]
    }
    results { outcome: PROBE_OUTCOME_FAULT vector: 13 }
    results { outcome: PROBE_OUTCOME_FAULT vector: 6 }
    results { outcome: PROBE_OUTCOME_TIMEOUT }
    results { outcome: PROBE_OUTCOME_OK values: 2500 }
    backend: "kvm"
  )pb");
  EXPECT_EQ(RenderProbeResults(request, response),
            "#   OP               ARGS              RESULT\n"
            "0   rdmsr            0x10              0x1e240\n"
            "1   wrmsr            0x1b=0xfee00900   ok\n"
            "2   rdmsr            0x1b              0xfee00d00\n"
            "3   cpuid            0xa,0x0           "
            "eax=0x8300805 ebx=0x0 ecx=0x0 edx=0x603\n"
            "4   rdmsr            0x4b564d00        #GP\n"
            "5   wrmsr            0xc0000080=0x1    #UD\n"
            "6   wait-interrupt   236,1000          timeout\n"
            "7   spin             1000              cycles=2500\n"
            "backend: kvm\n");
}

TEST(RenderProbeResultsTest, MissingAndExtraResults) {
  const auto request = Parse<v1::RunProbeRequest>(R"pb(
    ops { rdtsc {} }
    ops { rdtsc {} }
  )pb");
  auto response = Parse<v1::RunProbeResponse>(R"pb(
    results { outcome: PROBE_OUTCOME_OK values: 99 }
    backend: "sim"
  )pb");
  EXPECT_EQ(RenderProbeResults(request, response),
            "#   OP      ARGS   RESULT\n"
            "0   rdtsc   -      tsc=99\n"
            "1   rdtsc   -      -\n"
            "backend: sim\n");

  response = Parse<v1::RunProbeResponse>(R"pb(
    results { outcome: PROBE_OUTCOME_OK values: 1 }
    results { outcome: PROBE_OUTCOME_OK values: 2 }
    results { outcome: PROBE_OUTCOME_OK values: 3 }
  )pb");
  EXPECT_EQ(RenderProbeResults(request, response),
            "#   OP      ARGS   RESULT\n"
            "0   rdtsc   -      tsc=1\n"
            "1   rdtsc   -      tsc=2\n"
            "2   ?       -      ok values=0x3\n"
            "backend: -\n");
}

TEST(RenderGuestBenchTest, ResultsThenTheFloorAndTheSummary) {
  const auto report = Parse<v1::GuestBenchReport>(R"pb(
    results {
      name: "pio_exit"
      description: "OUT to a port the engine answers"
      samples: 10000
      p50_ns: 1234.4
      p99_ns: 2345.6
      p50_cycles: 3696
      p99_cycles: 7026
    }
    results {
      name: "msr_user_exit"
      description: "RDMSR of an MSR filtered to user space"
      samples: 10000
      p50_ns: 1401
      p99_ns: 1999.5
      p50_cycles: 4196
      p99_cycles: 5990
    }
    raw_kvm_floor {
      name: "raw_kvm_pio"
      description: "minimal KVM_RUN loop"
      samples: 10000
      p50_ns: 1153.7
      p99_ns: 1300
      p50_cycles: 3456
      p99_cycles: 3894
    }
    pio_ratio_to_floor: 1.0699
    tsc_khz: 2995200
  )pb");
  EXPECT_EQ(RenderGuestBench(report),
            "NAME            SAMPLES   P50 NS   P99 NS   P50 CYCLES   P99 CYCLES   DESCRIPTION\n"
            "pio_exit        10000     1234     2346     3696         7026         "
            "OUT to a port the engine answers\n"
            "msr_user_exit   10000     1401     2000     4196         5990         "
            "RDMSR of an MSR filtered to user space\n"
            "raw_kvm_pio     10000     1154     1300     3456         3894         "
            "minimal KVM_RUN loop\n"
            "pio ratio to floor: 1.07x (target <= 1.2)\n"
            "tsc: 2995200 kHz\n");
}

TEST(RenderGuestBenchTest, EmptyReport) {
  EXPECT_EQ(RenderGuestBench(v1::GuestBenchReport()),
            "NAME   SAMPLES   P50 NS   P99 NS   P50 CYCLES   P99 CYCLES   DESCRIPTION\n"
            "pio ratio to floor: - (target <= 1.2)\n"
            "tsc: 0 kHz\n");
}

}  // namespace
}  // namespace vmd::client

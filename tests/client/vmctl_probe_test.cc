// vmctl probe and vmctl bench against the in-process fake daemon: op flags
// to requests (in command-line order), output, exit statuses and messages.
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"
#include "tests/client/fake_vmd.h"
#include "tests/client/run_vmctl.h"

namespace vmd::client {
namespace {

using ::vmd::testing::Parse;

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::vmd::testing::FakeVmd;
using ::vmd::testing::MakeVm;
using ::vmd::testing::VmctlResult;

class VmctlProbeTest : public ::testing::Test {
 protected:
  VmctlProbeTest() {
    absl::MutexLock lock(&fake_.state().mu);
    AddVm("p", v1::VM_STATE_RUNNING, "probe", v1::BACKEND_KVM);
    AddVm("s", v1::VM_STATE_RUNNING, "probe", v1::BACKEND_SIM);
    AddVm("idle", v1::VM_STATE_RUNNING, "idle", v1::BACKEND_KVM);
    AddVm("off", v1::VM_STATE_STOPPED, "probe", v1::BACKEND_UNSPECIFIED);
  }

  void AddVm(const std::string& name, v1::VmState state,
             const std::string& workload, v1::Backend backend)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(fake_.state().mu) {
    v1::Vm vm = MakeVm(name, state, absl::Now());
    vm.mutable_spec()->set_workload(workload);
    vm.mutable_status()->set_backend(backend);
    fake_.state().vms[name] = vm;
  }

  VmctlResult Run(const std::vector<std::string>& args) {
    return ::vmd::testing::RunVmctlForTest(fake_.address(), args);
  }

  std::vector<v1::RunProbeRequest> ProbeRequests() {
    absl::MutexLock lock(&fake_.state().mu);
    return fake_.state().probe_requests;
  }

  std::vector<v1::RunGuestBenchRequest> BenchRequests() {
    absl::MutexLock lock(&fake_.state().mu);
    return fake_.state().bench_requests;
  }

  FakeVmd fake_;
};

TEST_F(VmctlProbeTest, SendsTheOpsInCommandLineOrder) {
  // Every op flag, some twice, interleaved with the name, --timeout-ms, a
  // global option and both --flag VALUE and --flag=VALUE.
  VmctlResult r = Run({"probe", "--rdmsr", "0x10", "p", "--wrmsr",
                       "0x1b=0xfee00900", "--cpuid", "0xa,0", "--rdtsc",
                       "--rdmsr=0x1b", "--timeout-ms", "5000", "-o", "json",
                       "--wait-interrupt", "236,1000", "--read-mem",
                       "0x1000", "--write-mem", "0x2000=0xab,1", "--spin",
                       "1000", "--rdtsc", "--cpuid=7"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());

  const std::vector<v1::RunProbeRequest> requests = ProbeRequests();
  ASSERT_EQ(requests.size(), 1u);
  const auto expected = Parse<v1::RunProbeRequest>(R"pb(
    name: "p"
    timeout_ms: 5000
    ops { rdmsr { index: 0x10 } }
    ops { wrmsr { index: 0x1b value: 0xfee00900 } }
    ops { cpuid { leaf: 0xa subleaf: 0 } }
    ops { rdtsc {} }
    ops { rdmsr { index: 0x1b } }
    ops { wait_interrupt { vector: 236 timeout_us: 1000 } }
    ops { read_memory { address: 0x1000 size: 8 } }
    ops { write_memory { address: 0x2000 value: 0xab size: 1 } }
    ops { spin { iterations: 1000 } }
    ops { rdtsc {} }
    ops { cpuid { leaf: 7 } }
  )pb");
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      requests[0], expected))
      << requests[0].DebugString();
}

TEST_F(VmctlProbeTest, SameFlagRepeatedKeepsItsPlaceAmongOthers) {
  VmctlResult r = Run({"probe", "p", "--rdmsr", "1", "--rdtsc", "--rdmsr",
                       "2", "--rdtsc", "--rdmsr", "3"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const std::vector<v1::RunProbeRequest> requests = ProbeRequests();
  ASSERT_EQ(requests.size(), 1u);
  std::vector<std::string> ops;
  for (const v1::ProbeOp& op : requests[0].ops()) {
    ops.push_back(op.ShortDebugString());
  }
  EXPECT_EQ(absl::StrJoin(ops, " / "),
            "rdmsr { index: 1 } / rdtsc { } / rdmsr { index: 2 } / "
            "rdtsc { } / rdmsr { index: 3 }");
  EXPECT_EQ(requests[0].timeout_ms(), 0u);
}

TEST_F(VmctlProbeTest, PrintsOneRowPerOpAndTheBackend) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().probe_response = Parse<v1::RunProbeResponse>(R"pb(
      results { outcome: PROBE_OUTCOME_OK values: 0xfee00d00 }
      results { outcome: PROBE_OUTCOME_OK }
      results {
        outcome: PROBE_OUTCOME_OK
        values: [ 0x8300805, 0, 0, 0x603 ]
      }
      results { outcome: PROBE_OUTCOME_FAULT vector: 13 }
      results { outcome: PROBE_OUTCOME_TIMEOUT }
      results { outcome: PROBE_OUTCOME_OK values: 3 }
      backend: "kvm"
    )pb");
  }
  VmctlResult r = Run({"probe", "p", "--rdmsr", "0x1b", "--wrmsr",
                       "0x1b=0xfee00900", "--cpuid", "0xa,0", "--rdmsr",
                       "0x4b564d00", "--wait-interrupt", "236",
                       "--wait-interrupt", "32,10"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out,
            "#   OP               ARGS              RESULT\n"
            "0   rdmsr            0x1b              0xfee00d00\n"
            "1   wrmsr            0x1b=0xfee00900   ok\n"
            "2   cpuid            0xa,0x0           "
            "eax=0x8300805 ebx=0x0 ecx=0x0 edx=0x603\n"
            "3   rdmsr            0x4b564d00        #GP\n"
            "4   wait-interrupt   236               timeout\n"
            "5   wait-interrupt   32,10             count=3\n"
            "backend: kvm\n");
}

TEST_F(VmctlProbeTest, JsonIsTheRunProbeResponse) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().probe_response = Parse<v1::RunProbeResponse>(R"pb(
      results { outcome: PROBE_OUTCOME_OK values: 16 }
      results { outcome: PROBE_OUTCOME_FAULT vector: 6 }
      backend: "sim"
    )pb");
  }
  VmctlResult r = Run({"-o", "json", "probe", "s", "--rdmsr", "0x10",
                       "--wrmsr", "0x10=0"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::RunProbeResponse response;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(r.out, &response).ok())
      << r.out;
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_EQ(response.results(0).values(0), 16u);
  EXPECT_EQ(response.results(1).vector(), 6u);
  EXPECT_EQ(response.backend(), "sim");
  // Canonical JSON like the other commands: enum names, 64-bit integers as
  // strings, defaults printed.
  EXPECT_THAT(r.out, HasSubstr("\"outcome\": \"PROBE_OUTCOME_FAULT\""));
  EXPECT_THAT(r.out, HasSubstr("\"16\""));
  EXPECT_THAT(r.out, HasSubstr("\"values\": []"));
  EXPECT_THAT(r.out, HasSubstr("\"vector\": 0"));
}

TEST_F(VmctlProbeTest, UsageErrorsExitTwoAndSendNothing) {
  const std::vector<std::vector<std::string>> bad = {
      {"probe", "p"},
      {"probe", "--rdmsr", "0x10"},
      {"probe", "p", "--rdmsr"},
      {"probe", "p", "--rdmsr", "0xzz"},
      {"probe", "p", "--rdmsr", "0x100000000"},
      {"probe", "p", "--wrmsr", "0x1b"},
      {"probe", "p", "--wrmsr", "0x1b=x"},
      {"probe", "p", "--cpuid", "0xa,"},
      {"probe", "p", "--cpuid", "a"},
      {"probe", "p", "--rdtsc=5"},
      {"probe", "p", "--wait-interrupt", "32,1s"},
      {"probe", "p", "--read-mem", "0x1000,x"},
      {"probe", "p", "--write-mem", "0x1000"},
      {"probe", "p", "--write-mem", "0x1000=0x100,1"},
      {"probe", "p", "--spin", "-1"},
      {"probe", "p", "--spin", "1e6"},
      {"probe", "p", "--rdtsc", "--timeout-ms", "soon"},
      {"probe", "p", "--rdmsr", "1", "--frob"},
      {"bench"},
      {"bench", "p", "--iterations", "many"},
  };
  for (const auto& args : bad) {
    VmctlResult r = Run(args);
    ::vmd::testing::ExpectUsageError(r, absl::StrJoin(args, " "));
  }
  EXPECT_THAT(ProbeRequests(), IsEmpty());
  EXPECT_THAT(BenchRequests(), IsEmpty());
}

TEST_F(VmctlProbeTest, UsageErrorsNameTheFlagAndTheBadText) {
  EXPECT_EQ(Run({"probe", "p"}).err,
            "vmctl: probe needs at least one op: --rdmsr, --wrmsr, --cpuid, "
            "--rdtsc, --wait-interrupt, --read-mem, --write-mem, --spin, --write-cr4, --xsetbv\n");
  EXPECT_EQ(Run({"probe", "p", "--rdmsr", "0x10", "--rdmsr", "0xzz"}).err,
            "vmctl: --rdmsr: IDX \"0xzz\" is not a decimal or 0x-hex "
            "number\n");
  EXPECT_EQ(Run({"probe", "p", "--wrmsr", "0x1b"}).err,
            "vmctl: --wrmsr: want IDX=VALUE, got \"0x1b\"\n");
  EXPECT_EQ(Run({"probe", "p", "--cpuid", "0xa,0,1"}).err,
            "vmctl: --cpuid: SUBLEAF \"0,1\" is not a decimal or 0x-hex "
            "number\n");
  EXPECT_EQ(Run({"probe", "p", "--wait-interrupt", "32,1s"}).err,
            "vmctl: --wait-interrupt: TIMEOUT_US \"1s\" is not a decimal or "
            "0x-hex number\n");
  EXPECT_EQ(Run({"probe", "p", "--read-mem", "0x1000,"}).err,
            "vmctl: --read-mem: SIZE is missing in \"0x1000,\"\n");
  EXPECT_EQ(Run({"probe", "p", "--write-mem", "0x1000=0x100,1"}).err,
            "vmctl: --write-mem: VALUE \"0x100\" does not fit in 1 byte\n");
  EXPECT_EQ(Run({"probe", "p", "--spin", "1e6"}).err,
            "vmctl: --spin: N \"1e6\" is not a decimal or 0x-hex number\n");
}

TEST_F(VmctlProbeTest, ServerErrorsExitOne) {
  VmctlResult r = Run({"probe", "off", "--rdtsc"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"off\" is stopped; probes need "
            "state running\n");

  r = Run({"probe", "idle", "--rdtsc"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"idle\" runs workload idle; "
            "probes need workload probe\n");

  r = Run({"probe", "nope", "--rdtsc", "-o", "json"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"nope\" not found\n");
  EXPECT_EQ(ProbeRequests().size(), 3u);
}

v1::GuestBenchReport TestReport() {
  return Parse<v1::GuestBenchReport>(R"pb(
    results {
      name: "pio_exit"
      description: "OUT to the engine and back"
      samples: 1000
      p50_ns: 1234.4
      p99_ns: 2345.6
      p50_cycles: 3696
      p99_cycles: 7026
    }
    results {
      name: "msi_irqfd"
      description: "irqfd MSI to the guest's handler"
      samples: 1000
      p50_ns: 5012
      p99_ns: 9000
      p50_cycles: 4196
      p99_cycles: 5990
    }
    raw_kvm_floor {
      name: "raw_kvm_pio"
      description: "minimal KVM_RUN loop"
      samples: 1000
      p50_ns: 1153.7
      p99_ns: 1300
      p50_cycles: 3456
      p99_cycles: 3894
    }
    pio_ratio_to_floor: 1.0699
    tsc_khz: 2995200
  )pb");
}

TEST_F(VmctlProbeTest, BenchPrintsTheTableAndSummary) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().bench_report = TestReport();
  }
  VmctlResult r = Run({"bench", "p", "--iterations", "1000"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out,
            "NAME          SAMPLES   P50 NS   P99 NS   P50 CYCLES   P99 CYCLES   DESCRIPTION\n"
            "pio_exit      1000      1234     2346     3696         7026         "
            "OUT to the engine and back\n"
            "msi_irqfd     1000      5012     9000     4196         5990         "
            "irqfd MSI to the guest's handler\n"
            "raw_kvm_pio   1000      1154     1300     3456         3894         minimal KVM_RUN loop\n"
            "pio ratio to floor: 1.07x (target <= 1.2)\n"
            "tsc: 2995200 kHz\n");
  const std::vector<v1::RunGuestBenchRequest> requests = BenchRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].name(), "p");
  EXPECT_EQ(requests[0].iterations(), 1000u);
}

TEST_F(VmctlProbeTest, BenchJsonIsTheReport) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().bench_report = TestReport();
  }
  VmctlResult r = Run({"bench", "p", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::GuestBenchReport report;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &report).ok())
      << r.out;
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(report, TestReport()))
      << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"rawKvmFloor\": {"));
  EXPECT_THAT(r.out, HasSubstr("\"tscKhz\": \"2995200\""));
  const std::vector<v1::RunGuestBenchRequest> requests = BenchRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].iterations(), 0u);
}

TEST_F(VmctlProbeTest, BenchServerErrorsExitOne) {
  VmctlResult r = Run({"bench", "s"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"s\" runs on sim; guest "
            "micro-benchmarks time real VM exits and need kvm\n");

  r = Run({"bench", "off"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"off\" is stopped; probes need "
            "state running\n");
}

TEST_F(VmctlProbeTest, HelpListsTheCommandsAndOpFlags) {
  VmctlResult r = Run({"--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("\n  probe "));
  EXPECT_THAT(r.out, HasSubstr("\n  bench "));

  r = Run({"probe", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.err, IsEmpty());
  for (const char* flag :
       {"--rdmsr IDX", "--wrmsr IDX=VALUE", "--cpuid LEAF[,SUBLEAF]",
        "--rdtsc", "--wait-interrupt VECTOR[,TIMEOUT_US]",
        "--read-mem ADDR[,SIZE]", "--write-mem ADDR=VALUE[,SIZE]",
        "--spin N", "--timeout-ms", "Ops run in the order given"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }

  r = Run({"bench", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("--iterations"));

  r = Run({"create", "--help"});
  EXPECT_THAT(r.out, HasSubstr("probe"));
}

}  // namespace
}  // namespace vmd::client

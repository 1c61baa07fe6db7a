#include "client/probe_args.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"

namespace vmd::client {
namespace {

using ::vmd::testing::EqualsProto;

using ::testing::ElementsAre;

// The op in protobuf text format, e.g. "rdmsr { index: 16 }".
v1::ProbeOp Op(const std::string& text) {
  v1::ProbeOp op;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &op))
      << text;
  return op;
}

// ParseProbeOp's op, or an empty op (with a test failure) on error.
v1::ProbeOp Parsed(ProbeFlag flag, const std::string& text) {
  absl::StatusOr<v1::ProbeOp> op = ParseProbeOp(flag, text);
  EXPECT_TRUE(op.ok()) << text << ": " << op.status();
  return op.ok() ? *op : v1::ProbeOp();
}

// ParseProbeOp's error message; "" (with a test failure) when it parsed.
std::string Error(ProbeFlag flag, const std::string& text) {
  absl::StatusOr<v1::ProbeOp> op = ParseProbeOp(flag, text);
  EXPECT_FALSE(op.ok()) << text << " parsed";
  if (op.ok()) return "";
  EXPECT_EQ(op.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(op.status().message());
}

TEST(ParseProbeNumberTest, DecimalAndHex) {
  EXPECT_EQ(*ParseProbeNumber("0"), 0u);
  EXPECT_EQ(*ParseProbeNumber("16"), 16u);
  EXPECT_EQ(*ParseProbeNumber("010"), 10u);  // Decimal, not octal.
  EXPECT_EQ(*ParseProbeNumber("0x10"), 16u);
  EXPECT_EQ(*ParseProbeNumber("0X1b"), 27u);
  EXPECT_EQ(*ParseProbeNumber("0xFEE00900"), 0xfee00900u);
  EXPECT_EQ(*ParseProbeNumber("18446744073709551615"), UINT64_MAX);
  EXPECT_EQ(*ParseProbeNumber("0xffffffffffffffff"), UINT64_MAX);
  EXPECT_EQ(*ParseProbeNumber("0xffffffff", 0xffffffff), 0xffffffffu);
}

TEST(ParseProbeNumberTest, RejectsWhatIsNotANumber) {
  for (const char* text : {"", "0x", "x10", "1a", "0xg", "-1", "+1", " 1",
                           "1 ", "0x-1", "1.5", "0b1", "1,2"}) {
    absl::StatusOr<uint64_t> number = ParseProbeNumber(text);
    EXPECT_EQ(number.status().code(), absl::StatusCode::kInvalidArgument)
        << "\"" << text << "\"";
  }
  EXPECT_EQ(ParseProbeNumber("1a").status().message(),
            "\"1a\" is not a decimal or 0x-hex number");
}

TEST(ParseProbeNumberTest, RejectsWhatIsOutOfRange) {
  EXPECT_EQ(ParseProbeNumber("18446744073709551616").status().message(),
            "\"18446744073709551616\" is out of range (at most "
            "0xffffffffffffffff)");
  EXPECT_EQ(ParseProbeNumber("0x10000000000000000").status().message(),
            "\"0x10000000000000000\" is out of range (at most "
            "0xffffffffffffffff)");
  EXPECT_EQ(ParseProbeNumber("0x100000000", 0xffffffff).status().message(),
            "\"0x100000000\" is out of range (at most 0xffffffff)");
  EXPECT_EQ(ParseProbeNumber("4294967296", 0xffffffff).status().message(),
            "\"4294967296\" is out of range (at most 0xffffffff)");
}

TEST(ParseProbeOpTest, Rdmsr) {
  EXPECT_THAT(Parsed(ProbeFlag::kRdmsr, "0x10"),
              EqualsProto(Op("rdmsr { index: 16 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kRdmsr, "0xc0000080"),
              EqualsProto(Op("rdmsr { index: 0xc0000080 }")));
  EXPECT_EQ(Error(ProbeFlag::kRdmsr, "0xzz"),
            "IDX \"0xzz\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kRdmsr, ""), "IDX is missing in \"\"");
  EXPECT_EQ(Error(ProbeFlag::kRdmsr, "0x100000000"),
            "IDX \"0x100000000\" is out of range (at most 0xffffffff)");
}

TEST(ParseProbeOpTest, Wrmsr) {
  EXPECT_THAT(Parsed(ProbeFlag::kWrmsr, "0x1b=0xfee00900"),
              EqualsProto(Op("wrmsr { index: 0x1b value: 0xfee00900 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kWrmsr, "16=0"),
              EqualsProto(Op("wrmsr { index: 16 }")));
  EXPECT_THAT(
      Parsed(ProbeFlag::kWrmsr, "0x10=0xffffffffffffffff"),
      EqualsProto(Op("wrmsr { index: 16 value: 0xffffffffffffffff }")));
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "0x1b"),
            "want IDX=VALUE, got \"0x1b\"");
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "0x1b="),
            "VALUE is missing in \"0x1b=\"");
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "=5"), "IDX is missing in \"=5\"");
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "0x1b=zz"),
            "VALUE \"zz\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "0x1b=1=2"),
            "VALUE \"1=2\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kWrmsr, "0x1ffffffff=1"),
            "IDX \"0x1ffffffff\" is out of range (at most 0xffffffff)");
}

TEST(ParseProbeOpTest, Cpuid) {
  EXPECT_THAT(Parsed(ProbeFlag::kCpuid, "0xa,0"),
              EqualsProto(Op("cpuid { leaf: 10 subleaf: 0 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kCpuid, "7"),
              EqualsProto(Op("cpuid { leaf: 7 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kCpuid, "0xd,0x1"),
              EqualsProto(Op("cpuid { leaf: 13 subleaf: 1 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kCpuid, "0x80000008"),
              EqualsProto(Op("cpuid { leaf: 0x80000008 }")));
  EXPECT_EQ(Error(ProbeFlag::kCpuid, "0xa,"),
            "SUBLEAF is missing in \"0xa,\"");
  EXPECT_EQ(Error(ProbeFlag::kCpuid, ",1"), "LEAF is missing in \",1\"");
  EXPECT_EQ(Error(ProbeFlag::kCpuid, "0xa,0,1"),
            "SUBLEAF \"0,1\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kCpuid, "leaf"),
            "LEAF \"leaf\" is not a decimal or 0x-hex number");
}

TEST(ParseProbeOpTest, RdtscTakesNoValue) {
  EXPECT_THAT(Parsed(ProbeFlag::kRdtsc, ""), EqualsProto(Op("rdtsc {}")));
}

TEST(ParseProbeOpTest, WaitInterrupt) {
  EXPECT_THAT(Parsed(ProbeFlag::kWaitInterrupt, "32"),
              EqualsProto(Op("wait_interrupt { vector: 32 }")));
  EXPECT_THAT(
      Parsed(ProbeFlag::kWaitInterrupt, "0xec,500"),
      EqualsProto(Op("wait_interrupt { vector: 236 timeout_us: 500 }")));
  // The server checks the range (32-255); anything a uint32 holds is sent.
  EXPECT_THAT(Parsed(ProbeFlag::kWaitInterrupt, "300"),
              EqualsProto(Op("wait_interrupt { vector: 300 }")));
  EXPECT_EQ(Error(ProbeFlag::kWaitInterrupt, "32,1s"),
            "TIMEOUT_US \"1s\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kWaitInterrupt, "32,4294967296"),
            "TIMEOUT_US \"4294967296\" is out of range (at most 0xffffffff)");
  EXPECT_EQ(Error(ProbeFlag::kWaitInterrupt, "timer"),
            "VECTOR \"timer\" is not a decimal or 0x-hex number");
}

TEST(ParseProbeOpTest, ReadMem) {
  EXPECT_THAT(Parsed(ProbeFlag::kReadMem, "0x1000"),
              EqualsProto(Op("read_memory { address: 4096 size: 8 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kReadMem, "0x1002,2"),
              EqualsProto(Op("read_memory { address: 4098 size: 2 }")));
  // Sizes and alignment are the server's to check.
  EXPECT_THAT(Parsed(ProbeFlag::kReadMem, "0x1001,3"),
              EqualsProto(Op("read_memory { address: 4097 size: 3 }")));
  EXPECT_EQ(Error(ProbeFlag::kReadMem, "0x1000,"),
            "SIZE is missing in \"0x1000,\"");
  EXPECT_EQ(Error(ProbeFlag::kReadMem, "0x1000,eight"),
            "SIZE \"eight\" is not a decimal or 0x-hex number");
  EXPECT_EQ(Error(ProbeFlag::kReadMem, "4k"),
            "ADDR \"4k\" is not a decimal or 0x-hex number");
}

TEST(ParseProbeOpTest, WriteMem) {
  EXPECT_THAT(
      Parsed(ProbeFlag::kWriteMem, "0x1000=0xff"),
      EqualsProto(Op("write_memory { address: 4096 value: 255 size: 8 }")));
  EXPECT_THAT(
      Parsed(ProbeFlag::kWriteMem, "0x1000=0xffff,2"),
      EqualsProto(Op("write_memory { address: 4096 value: 65535 size: 2 }")));
  EXPECT_THAT(
      Parsed(ProbeFlag::kWriteMem, "4096=0xffffffff,4"),
      EqualsProto(
          Op("write_memory { address: 4096 value: 0xffffffff size: 4 }")));
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000"),
            "want ADDR=VALUE[,SIZE], got \"0x1000\"");
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000=,4"),
            "VALUE is missing in \"0x1000=,4\"");
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000=1,"),
            "SIZE is missing in \"0x1000=1,\"");
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000,4=1"),
            "ADDR \"0x1000,4\" is not a decimal or 0x-hex number");
  // A value the access would truncate.
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000=0x100,1"),
            "VALUE \"0x100\" does not fit in 1 byte");
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000=65536,2"),
            "VALUE \"65536\" does not fit in 2 bytes");
  EXPECT_EQ(Error(ProbeFlag::kWriteMem, "0x1000=0x100000000,4"),
            "VALUE \"0x100000000\" does not fit in 4 bytes");
}

TEST(ParseProbeOpTest, Spin) {
  EXPECT_THAT(Parsed(ProbeFlag::kSpin, "1000000"),
              EqualsProto(Op("spin { iterations: 1000000 }")));
  EXPECT_THAT(Parsed(ProbeFlag::kSpin, "0x10"),
              EqualsProto(Op("spin { iterations: 16 }")));
  EXPECT_EQ(Error(ProbeFlag::kSpin, "1e6"),
            "N \"1e6\" is not a decimal or 0x-hex number");
}

TEST(ParseProbeOpsTest, KeepsTheGivenOrder) {
  absl::StatusOr<std::vector<v1::ProbeOp>> ops = ParseProbeOps({
      {ProbeFlag::kRdmsr, "0x10"},
      {ProbeFlag::kWrmsr, "0x1b=0xfee00900"},
      {ProbeFlag::kRdtsc, ""},
      {ProbeFlag::kRdmsr, "0x1b"},
      {ProbeFlag::kCpuid, "0xa,0"},
      {ProbeFlag::kSpin, "5"},
      {ProbeFlag::kRdtsc, ""},
  });
  ASSERT_TRUE(ops.ok()) << ops.status();
  EXPECT_THAT(*ops,
              ElementsAre(EqualsProto(Op("rdmsr { index: 0x10 }")),
                          EqualsProto(Op("wrmsr { index: 0x1b "
                                         "value: 0xfee00900 }")),
                          EqualsProto(Op("rdtsc {}")),
                          EqualsProto(Op("rdmsr { index: 0x1b }")),
                          EqualsProto(Op("cpuid { leaf: 10 }")),
                          EqualsProto(Op("spin { iterations: 5 }")),
                          EqualsProto(Op("rdtsc {}"))));
}

TEST(ParseProbeOpsTest, ErrorsNameTheFlag) {
  EXPECT_EQ(ParseProbeOps({{ProbeFlag::kRdmsr, "1"},
                           {ProbeFlag::kWaitInterrupt, "x"}})
                .status()
                .message(),
            "--wait-interrupt: VECTOR \"x\" is not a decimal or 0x-hex "
            "number");
  EXPECT_EQ(ParseProbeOps({{ProbeFlag::kWriteMem, "1"}}).status().message(),
            "--write-mem: want ADDR=VALUE[,SIZE], got \"1\"");
}

TEST(ParseProbeOpsTest, NeedsAnOp) {
  absl::StatusOr<std::vector<v1::ProbeOp>> ops = ParseProbeOps({});
  EXPECT_EQ(ops.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ops.status().message(),
            "probe needs at least one op: --rdmsr, --wrmsr, --cpuid, "
            "--rdtsc, --wait-interrupt, --read-mem, --write-mem, --spin, "
            "--write-cr4, --xsetbv");
}

TEST(ParseProbeOpsTest, ControlRegisterOps) {
  absl::StatusOr<v1::ProbeOp> cr4 = ParseProbeOp(ProbeFlag::kWriteCr4, "0x40620");
  ASSERT_TRUE(cr4.ok()) << cr4.status();
  EXPECT_EQ(cr4->write_cr4().value(), 0x40620u);
  absl::StatusOr<v1::ProbeOp> xsetbv = ParseProbeOp(ProbeFlag::kXsetbv, "0=0x7");
  ASSERT_TRUE(xsetbv.ok()) << xsetbv.status();
  EXPECT_EQ(xsetbv->xsetbv().xcr(), 0u);
  EXPECT_EQ(xsetbv->xsetbv().value(), 7u);
  EXPECT_EQ(ParseProbeOp(ProbeFlag::kXsetbv, "7").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProbeFlagSpecsTest, EveryFlagOnceWithItsSyntax) {
  std::vector<std::string> flags;
  for (const ProbeFlagSpec& spec : ProbeFlagSpecs()) {
    flags.push_back(std::string(spec.name) + " " + spec.syntax);
    EXPECT_EQ(GetProbeFlagSpec(spec.flag).name, spec.name);
  }
  EXPECT_THAT(flags,
              ElementsAre("--rdmsr IDX", "--wrmsr IDX=VALUE",
                          "--cpuid LEAF[,SUBLEAF]", "--rdtsc ",
                          "--wait-interrupt VECTOR[,TIMEOUT_US]",
                          "--read-mem ADDR[,SIZE]",
                          "--write-mem ADDR=VALUE[,SIZE]", "--spin N",
                          "--write-cr4 VALUE", "--xsetbv XCR=VALUE"));
}

}  // namespace
}  // namespace vmd::client

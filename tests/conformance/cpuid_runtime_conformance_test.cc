// Per-cause CPUID updates (seed 001 "Split kvm_update_cpuid_runtime()"):
// the kernel selftests cr4_cpuid_sync_test (OSXSAVE, OSPKE follow CR4) and
// xcr0_cpuid_test (leaf 0xD's size follows XCR0, XSETBV's rules), and the
// APIC bit following APIC_BASE.EN, as probe programs. KVM does it in the
// kernel on kvm; the sim's CpuidRuntime must agree, bit for bit, on the
// bits each cause owns (the rest of the leaves is each backend's CPU).
#include <iostream>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "tests/conformance/backend_vm.h"
#include "tests/conformance/probe_ops.h"

namespace vmd::conformance {
namespace {

// The firmware's CR4: PAE, OSFXSR, OSXMMEXCPT.
constexpr uint64_t kBootCr4 = 0x620, kCr4Osxsave = 1ull << 18, kCr4Pke = 1ull << 22;

v1::ProbeOp WriteCr4(uint64_t value) {
  v1::ProbeOp op;
  op.mutable_write_cr4()->set_value(value);
  return op;
}
v1::ProbeOp Xsetbv(uint32_t xcr, uint64_t value) {
  v1::ProbeOp op;
  op.mutable_xsetbv()->set_xcr(xcr);
  op.mutable_xsetbv()->set_value(value);
  return op;
}

std::string Outcome(const v1::ProbeResult& r) {
  return r.outcome() == v1::PROBE_OUTCOME_OK ? "ok" : absl::StrCat("fault ", r.vector());
}

TEST(CpuidRuntimeConformanceTest, EachCauseUpdatesItsOwnBitsAsKvmDoes) {
  const std::vector<std::string> kinds = SimAndKvm("sim", "cpuid-runtime");
  const std::vector<v1::ProbeOp> program = {
      Cpuid(1),                                  // 0: OSXSAVE clear at boot
      Cpuid(0xd, 0),                             // 1: EBX for XCR0 = x87
      Xsetbv(0, 1),                              // 2: #UD without CR4.OSXSAVE
      WriteCr4(kBootCr4 | kCr4Osxsave),          // 3
      Cpuid(1),                                  // 4: OSXSAVE set
      Xsetbv(0, 0x3),                            // 5: x87 | SSE
      Cpuid(0xd, 0),                             // 6: still the legacy area
      Xsetbv(0, 0x7),                            // 7: | AVX
      Cpuid(0xd, 0),                             // 8: + the AVX state
      Xsetbv(0, 0x0),                            // 9: #GP: x87 is required
      Xsetbv(0, 0x5),                            // 10: #GP: AVX needs SSE
      Xsetbv(1, 0x1),                            // 11: #GP: only XCR0
      WriteCr4(kBootCr4),                        // 12
      Cpuid(1),                                  // 13: OSXSAVE clear again
      Cpuid(0xd, 0),                             // 14: XCR0 stays 7: its size too
      WriteCr4(kBootCr4 | (1ull << 15)),         // 15: #GP: reserved bit
      WriteCr4(kBootCr4 & ~(1ull << 5)),         // 16: #GP: PAE in long mode
      Cpuid(7),                                  // 17: OSPKE clear
      WriteCr4(kBootCr4 | kCr4Pke),              // 18 (both CPUs have PKU)
      Cpuid(7),                                  // 19: OSPKE set
      Wrmsr(0x1b, 0),                            // 20: APIC disabled
      Cpuid(1),                                  // 21: APIC bit clear
      Wrmsr(0x1b, 0xfee00900),                   // 22: xAPIC again
      Cpuid(1),                                  // 23: APIC bit set
  };
  std::vector<std::vector<std::string>> summaries;
  for (const std::string& kind : kinds) {
    SCOPED_TRACE(kind);
    BackendVm vm(kind, 1);
    ASSERT_TRUE(vm.status().ok()) << vm.status();
    absl::StatusOr<v1::RunProbeResponse> r = vm.Run(program);
    ASSERT_TRUE(r.ok()) << r.status();
    const auto reg = [&](int op, int i) { return static_cast<uint32_t>(r->results(op).values(i)); };
    const auto bit = [&](int op, int i, int b) { return (reg(op, i) >> b) & 1; };
    // The rules, on each backend:
    EXPECT_EQ(bit(0, 2, 27), 0u) << "OSXSAVE at boot";
    EXPECT_EQ(reg(1, 1), 576u) << "0xD.0 EBX for x87";
    EXPECT_EQ(Outcome(r->results(2)), "fault 6");
    EXPECT_EQ(Outcome(r->results(3)), "ok");
    EXPECT_EQ(bit(4, 2, 27), 1u) << "OSXSAVE follows CR4";
    EXPECT_EQ(reg(6, 1), 576u);
    EXPECT_EQ(reg(8, 1), 576u + 256u) << "AVX state at offset 576, 256 bytes";
    for (int op : {9, 10, 11}) EXPECT_EQ(Outcome(r->results(op)), "fault 13") << "op " << op;
    EXPECT_EQ(bit(13, 2, 27), 0u);
    EXPECT_EQ(reg(14, 1), 832u);
    EXPECT_EQ(Outcome(r->results(15)), "fault 13");
    EXPECT_EQ(Outcome(r->results(16)), "fault 13");
    EXPECT_EQ(bit(17, 2, 4), 0u) << "OSPKE";
    EXPECT_EQ(Outcome(r->results(18)), "ok");
    EXPECT_EQ(bit(19, 2, 4), 1u) << "OSPKE follows CR4.PKE";
    EXPECT_EQ(bit(21, 3, 9), 0u) << "APIC bit follows APIC_BASE.EN";
    EXPECT_EQ(bit(23, 3, 9), 1u);
    // What both must agree on: every outcome, and each cause's bits.
    std::vector<std::string> summary;
    for (int i = 0; i < r->results_size(); ++i) summary.push_back(Outcome(r->results(i)));
    for (int op : {0, 4, 13}) summary.push_back(absl::StrCat("osxsave ", bit(op, 2, 27)));
    for (int op : {1, 6, 8, 14}) summary.push_back(absl::StrCat("xsave size ", reg(op, 1)));
    for (int op : {17, 19}) summary.push_back(absl::StrCat("ospke ", bit(op, 2, 4)));
    for (int op : {21, 23}) summary.push_back(absl::StrCat("apic ", bit(op, 3, 9)));
    summaries.push_back(summary);
  }
  for (size_t i = 1; i < summaries.size(); ++i) EXPECT_EQ(summaries[0], summaries[i]) << kinds[0] << " vs " << kinds[i];
}

}  // namespace
}  // namespace vmd::conformance

// KVM's rules for a host write of IA32_PERF_CAPABILITIES, case by case as
// the kernel selftest vmx_pmu_caps_test.c checks them (and seeds 000-003).
#include "backend/pmu/perf_capabilities.h"

#include <gtest/gtest.h>

namespace vmd::pmu {
namespace {

// Ice Lake server's host value: LBR format 5, PEBS format 4 with baseline.
constexpr uint64_t kHost = 5 | kPerfCapPebsTrap | kPerfCapPebsArchReg | (4ull << 8) | kPerfCapFwWrites |
                           kPerfCapPebsBaseline;

PerfCapabilitiesContext Guest() {
  return {.supported = kHost, .pdcm = true, .ds = true, .dtes64 = true, .model_is_host = true};
}

struct Case {
  const char* what;
  uint64_t value;
  PerfCapabilitiesContext ctx;
  const char* refusal;  // nullptr: accepted
};

TEST(PerfCapabilitiesTest, HostWritesFollowKvmsRules) {
  PerfCapabilitiesContext no_pdcm = Guest();
  no_pdcm.pdcm = false;
  PerfCapabilitiesContext no_vpmu = Guest();
  no_vpmu.supported = 0;
  PerfCapabilitiesContext other_model = Guest();
  other_model.model_is_host = false;
  PerfCapabilitiesContext no_ds = Guest();
  no_ds.ds = false;
  PerfCapabilitiesContext ran = Guest();
  ran.has_run = true;
  ran.current = kPerfCapFwWrites;
  const Case cases[] = {
      {"zero, always", 0, no_vpmu, nullptr},
      {"the host's value", kHost, Guest(), nullptr},
      {"FW_WRITES alone", kPerfCapFwWrites, Guest(), nullptr},
      {"without PDCM", kPerfCapFwWrites, no_pdcm, "PDCM"},
      {"without a vPMU", kPerfCapFwWrites, no_vpmu, "no vPMU"},
      {"an unsupported bit (PERF_METRICS)", kPerfCapPerfMetrics, Guest(), "does not support"},
      {"another LBR format", 4 | kPerfCapFwWrites, Guest(), "LBR_FMT"},
      {"LBR on another model", 5, other_model, "model"},
      {"PEBS without baseline", kPerfCapPebsTrap | kPerfCapPebsArchReg | (4ull << 8), Guest(), "PEBS fields"},
      {"PEBS without DS", kHost, no_ds, "DS and DTES64"},
      {"PEBS on another model", kPerfCapPebsMask & kHost, other_model, "model"},
      {"a change after KVM_RUN", kHost, ran, "after the vCPU has run"},
      {"the same value after KVM_RUN", kPerfCapFwWrites, ran, nullptr},
  };
  for (const Case& c : cases) {
    absl::Status s = CheckPerfCapabilitiesWrite(c.value, c.ctx);
    if (c.refusal == nullptr) {
      EXPECT_TRUE(s.ok()) << c.what << ": " << s.message();
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
      EXPECT_NE(s.message().find(c.refusal), std::string::npos) << c.what << ": " << s.message();
    }
  }
}

// vmx_pmu_caps_test "immutable": each single bit the host lacks is refused.
TEST(PerfCapabilitiesTest, EveryBitTheHostLacksIsRefused) {
  for (int bit = 0; bit < 64; ++bit) {
    const uint64_t value = 1ull << bit;
    if (kHost & value) continue;
    EXPECT_FALSE(CheckPerfCapabilitiesWrite(value, Guest()).ok()) << "bit " << bit;
  }
}

}  // namespace
}  // namespace vmd::pmu

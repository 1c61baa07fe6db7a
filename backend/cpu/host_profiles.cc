#include "backend/cpu/host_profiles.h"

#include <array>

namespace vmd::cpu {
namespace {

// IA32_PERF_CAPABILITIES fields (../shared/REFERENCE.md "vPMU").
constexpr uint64_t kPebsTrap = 1ull << 6;
constexpr uint64_t kPebsArchReg = 1ull << 7;
constexpr uint64_t kFreezeInSmm = 1ull << 12;
constexpr uint64_t kFwWrites = 1ull << 13;
constexpr uint64_t kPebsBaseline = 1ull << 14;
constexpr uint64_t kPerfMetrics = 1ull << 15;
constexpr uint64_t PerfCaps(uint32_t lbr_format, uint32_t pebs_format, uint64_t flags) {
  return (lbr_format & 0x3f) | (uint64_t{pebs_format & 0xf} << 8) | flags;
}

// Intel's eight architectural events (0xA EBX bits 0-7): all available.
constexpr uint32_t kAllArchEvents = 0;

constexpr std::array<HostProfile, 6> kProfiles = {{
    {.name = "intel-icelake-server",
     .description = "Intel Ice Lake server: PMU v5, legacy LBR (depth 32), guest PEBS via DS (baseline)",
     .vendor = CpuVendor::kIntel, .family = 6, .model = 0x6a, .stepping = 6, .max_vcpus = 64,
     .tsc_khz = 2600000,
     .pmu = {.version = 5, .gp_counters = 8, .gp_counter_width = 48, .fixed_counters = 4,
             .fixed_counter_width = 48, .unavailable_events = kAllArchEvents, .event_mask_length = 8,
             .lbr_format = 5, .lbr_depth = 32, .pebs_format = 4, .pebs_baseline = true, .guest_pebs = true,
             .perf_capabilities = PerfCaps(5, 4, kPebsTrap | kPebsArchReg | kFwWrites | kPebsBaseline |
                                                      kPerfMetrics)},
     .kernel_vpmu_version = 2},
    {.name = "intel-sapphire-rapids",
     .description = "Intel Sapphire Rapids: PMU v5, Arch LBR (depths 8-32), adaptive PEBS; its kernel carries "
                    "the vPMU v5 (seed 004) and guest Arch LBR (seed 001) series",
     .vendor = CpuVendor::kIntel, .family = 6, .model = 0x8f, .stepping = 8, .max_vcpus = 64,
     .tsc_khz = 2100000,
     .pmu = {.version = 5, .gp_counters = 8, .gp_counter_width = 48, .fixed_counters = 4,
             .fixed_counter_width = 48, .unavailable_events = kAllArchEvents, .event_mask_length = 8,
             .lbr_format = 0x3f, .arch_lbr_depth_bitmap = 0x0f, .pebs_format = 5, .pebs_baseline = true,
             .guest_pebs = true,
             .perf_capabilities = PerfCaps(0x3f, 5, kPebsTrap | kPebsArchReg | kFwWrites | kPebsBaseline |
                                                         kPerfMetrics)},
     .kernel_vpmu_version = 5,
     .kernel_arch_lbr = true},
    {.name = "intel-skylake",
     .description = "Intel Skylake client: PMU v4, legacy LBR (depth 32), no guest PEBS",
     .vendor = CpuVendor::kIntel, .family = 6, .model = 0x5e, .stepping = 3, .max_vcpus = 64,
     .tsc_khz = 3400000,
     .pmu = {.version = 4, .gp_counters = 4, .gp_counter_width = 48, .fixed_counters = 3,
             .fixed_counter_width = 48, .unavailable_events = kAllArchEvents, .event_mask_length = 7,
             .lbr_format = 5, .lbr_depth = 32, .pebs_format = 3, .guest_pebs = false,
             .perf_capabilities = PerfCaps(5, 3, kPebsTrap | kPebsArchReg | kFwWrites)},
     .kernel_vpmu_version = 2},
    // Skylake-SP: 4 GP counters per thread with SMT on (8 without), format-5
    // LBR of depth 32, PEBS format 3 (PERF_CAPABILITIES 0x33c5 on the part).
    {.name = "intel-skylake-server",
     .description = "Intel Skylake-SP: PMU v4, legacy LBR (depth 32), no guest PEBS",
     .vendor = CpuVendor::kIntel, .family = 6, .model = 0x55, .stepping = 4, .max_vcpus = 64,
     .tsc_khz = 2100000,
     .pmu = {.version = 4, .gp_counters = 4, .gp_counter_width = 48, .fixed_counters = 3,
             .fixed_counter_width = 48, .unavailable_events = kAllArchEvents, .event_mask_length = 7,
             .lbr_format = 5, .lbr_depth = 32, .pebs_format = 3, .guest_pebs = false,
             .perf_capabilities = PerfCaps(5, 3, kPebsTrap | kPebsArchReg | kFreezeInSmm | kFwWrites)},
     .kernel_vpmu_version = 2},
    // An Intel host whose kernel gives guests no vPMU (kvm.enable_pmu=N, or
    // itself a guest without one, as this machine is on AMD).
    {.name = "intel-no-pmu",
     .description = "Intel Ice Lake server without a PMU for guests (kvm.enable_pmu=N)",
     .vendor = CpuVendor::kIntel, .family = 6, .model = 0x6a, .stepping = 6, .max_vcpus = 64,
     .tsc_khz = 2600000,
     .pmu = {},
     .kernel_vpmu_version = 0},
    {.name = "amd-zen4",
     .description = "AMD Zen 4: PerfMonV2 (6 core counters), no LBR for guests",
     .vendor = CpuVendor::kAmd, .family = 0x19, .model = 0x11, .stepping = 1, .max_vcpus = 64,
     .tsc_khz = 2400000,
     .pmu = {.version = 2, .gp_counters = 6, .gp_counter_width = 48},
     .kernel_vpmu_version = 2},
}};

}  // namespace

std::span<const HostProfile> HostProfiles() { return kProfiles; }

const HostProfile& DefaultHostProfile() { return kProfiles[0]; }

const HostProfile* FindHostProfile(absl::string_view name) {
  for (const HostProfile& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace vmd::cpu

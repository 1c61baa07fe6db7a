#include "backend/hypervisor/sim/sim_profiles.h"

#include <array>

namespace vmd::hv {
namespace {

constexpr std::array<SimProfile, 4> kProfiles = {{
    {"intel-icelake-server", "Intel Ice Lake server: legacy LBR, guest PEBS via DS, PMU v4",
     CpuVendor::kIntel, 64, 0x000606a6, 2600000},
    {"intel-sapphire-rapids", "Intel Sapphire Rapids: Arch LBR, adaptive PEBS, PMU v5",
     CpuVendor::kIntel, 64, 0x000806f8, 2100000},
    {"intel-skylake", "Intel Skylake client: legacy LBR (depth 32), PMU v4, no guest PEBS",
     CpuVendor::kIntel, 64, 0x000506e3, 3400000},
    {"amd-zen4", "AMD Zen 4: PerfMonV2, no LBR", CpuVendor::kAmd, 64, 0x00a10f11, 2400000},
}};

}  // namespace

std::span<const SimProfile> SimProfiles() { return kProfiles; }

const SimProfile& DefaultSimProfile() { return kProfiles[0]; }

const SimProfile* FindSimProfile(std::string_view name) {
  for (const SimProfile& p : kProfiles) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace vmd::hv

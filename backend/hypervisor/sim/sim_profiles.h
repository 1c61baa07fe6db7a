// Host profiles the sim backend models: CPUs this machine may lack.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_PROFILES_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_PROFILES_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace vmd::hv {

enum class CpuVendor { kIntel, kAmd };

struct SimProfile {
  std::string_view name;
  std::string_view description;
  CpuVendor vendor;
  uint32_t max_vcpus;
  uint32_t cpuid_signature;  // CPUID.1:EAX, family/model/stepping
  uint64_t tsc_khz;
};

std::span<const SimProfile> SimProfiles();
// The profile used when a VM names none.
const SimProfile& DefaultSimProfile();
// nullptr when there is no profile of that name.
const SimProfile* FindSimProfile(std::string_view name);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_PROFILES_H_

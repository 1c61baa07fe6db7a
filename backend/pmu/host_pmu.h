// A host's PMU as the API shows it (v1::HostPmu): a sim profile's from its
// description, and the kvm host's from what KVM, the CPU and perf say.
// Pure: the facts are read elsewhere (engine/host_probe), so that every
// combination is tested here.
#ifndef VMD_BACKEND_PMU_HOST_PMU_H_
#define VMD_BACKEND_PMU_HOST_PMU_H_

#include <cstdint>
#include <optional>
#include <string>

#include "backend/cpu/cpuid.h"
#include "backend/cpu/host_profiles.h"
#include "backend/cpu/kvm_host_report.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::pmu {

// The highest version the engine's own vPMU emulates (seed 004's v5).
inline constexpr uint32_t kEngineMaxVersion = 5;

v1::HostPmu HostPmuOfProfile(const cpu::HostProfile& profile);

// What a real host says about its PMU.
struct HostPmuFacts {
  // The CPU's own CPUID (leaves 0, 1, 0xA, 0x1C, 0x80000001, 0x80000022).
  cpu::CpuidTable native_cpuid;
  // KVM's answers (supported CPUID, feature MSRs, capabilities).
  const cpu::KvmHostReport* kvm = nullptr;
  // /sys/module/kvm/parameters/enable_pmu; nullopt when unreadable.
  std::optional<bool> enable_pmu;
  // /sys/bus/event_source/devices/cpu: whether it exists, and its
  // caps/pmu_name and caps/branches (the LBR depth perf uses).
  bool perf_cpu_pmu = false;
  std::string perf_pmu_name;
  uint32_t perf_branches = 0;
};

v1::HostPmu DescribeHostPmu(const HostPmuFacts& facts);

}  // namespace vmd::pmu

#endif  // VMD_BACKEND_PMU_HOST_PMU_H_

// What a host's KVM answers before any VM exists: KVM_GET_SUPPORTED_CPUID,
// KVM_GET_MSR_INDEX_LIST, KVM_GET_MSR_FEATURE_INDEX_LIST and the feature
// MSRs' values. The kvm backend reads it from /dev/kvm; the sim reports its
// model's; the sim's `host` profile is made from the kvm backend's.
#ifndef VMD_BACKEND_CPU_KVM_HOST_REPORT_H_
#define VMD_BACKEND_CPU_KVM_HOST_REPORT_H_

#include <cstdint>
#include <map>
#include <vector>

#include "backend/cpu/cpuid.h"
#include "backend/cpu/host_profiles.h"

namespace vmd::cpu {

struct KvmHostReport {
  CpuidTable supported_cpuid;
  std::vector<uint32_t> msr_index_list;
  std::vector<uint32_t> feature_msr_index_list;
  std::map<uint32_t, uint64_t> feature_msrs;  // by index
  uint32_t max_vcpus = 0;
  uint64_t tsc_khz = 0;
  // KVM_CHECK_EXTENSION: KVM_CAP_PMU_CAPABILITY (its KVM_PMU_CAP_* bits)
  // and KVM_CAP_PMU_EVENT_FILTER.
  uint32_t pmu_capability = 0;
  bool pmu_event_filter = false;
};

// The sim profile `host`: this host's CPU as its KVM describes it (vendor,
// family/model/stepping from CPUID, the supported CPUID as the base table,
// ARCH_CAPABILITIES from the feature MSRs); no vPMU. Made once per process
// from the first report and kept for its lifetime (VMs refer to it).
const HostProfile& HostProfileFromKvm(const KvmHostReport& report);

}  // namespace vmd::cpu

#endif  // VMD_BACKEND_CPU_KVM_HOST_REPORT_H_

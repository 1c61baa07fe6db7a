// This host's PMU facts, read for the host probe: the CPU's own CPUID, the
// kvm module's enable_pmu, and the perf 'cpu' PMU in sysfs (the pure
// description is backend/pmu/host_pmu.h).
#ifndef VMD_BACKEND_ENGINE_HOST_PMU_PROBE_H_
#define VMD_BACKEND_ENGINE_HOST_PMU_PROBE_H_

#include <string>

#include "backend/cpu/kvm_host_report.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::engine {

// `kvm` is null where /dev/kvm does not open; `sys_root` is "/sys" but for
// tests.
vmd::v1::HostPmu ProbeHostPmu(const cpu::KvmHostReport* kvm, const std::string& sys_root = "/sys");

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_HOST_PMU_PROBE_H_

#include "daemon/core/vm_spec_defaults.h"

namespace vmd::daemon {

v1::VmSpec WithDefaults(v1::VmSpec spec) {
  if (spec.vcpus() == 0) spec.set_vcpus(kDefaultVcpus);
  if (spec.memory_mib() == 0) spec.set_memory_mib(kDefaultMemoryMib);
  if (spec.backend() == v1::BACKEND_UNSPECIFIED) spec.set_backend(v1::BACKEND_AUTO);
  if (spec.workload().empty()) spec.set_workload(kDefaultWorkload);
  return spec;
}

}  // namespace vmd::daemon

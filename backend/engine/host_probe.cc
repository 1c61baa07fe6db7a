#include "backend/engine/host_probe.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "backend/cpu/cpu_vendor.h"
#include "backend/cpu/host_profiles.h"
#include "backend/cpu/kvm_host_report.h"
#include "backend/engine/host_pmu_probe.h"
#include "backend/engine/sandbox_probe.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/pmu/host_pmu.h"
#include "backend/rpc/proto_json.h"

namespace vmd::engine {
namespace {

// From CPUID leaf 0's vendor string, as /proc/cpuinfo reports it.
cpu::CpuVendor HostCpuVendor() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("vendor_id", 0) == 0) {
      return line.find("AuthenticAMD") != std::string::npos ? cpu::CpuVendor::kAmd : cpu::CpuVendor::kIntel;
    }
  }
  return cpu::CpuVendor::kIntel;
}

}  // namespace

v1::HostProbe ProbeHost() {
  v1::HostProbe probe;
  probe.set_api_version(v1::API_VERSION_1);
  probe.set_auto_backend("sim");
  for (const hv::BackendAvailability& b : hv::ProbeBackends()) {
    vmd::v1::BackendInfo* info = probe.add_backends();
    info->set_name(hv::BackendName(b.kind));
    info->set_usable(b.usable);
    info->set_reason(b.reason);
    info->set_max_vcpus(b.max_vcpus);
    if (b.kind == hv::BackendKind::kKvm && b.usable) probe.set_auto_backend("kvm");
  }
  const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  probe.set_max_memory_mib(static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * page_size >> 20);
  for (const cpu::HostProfile& p : cpu::HostProfiles()) {
    vmd::v1::SimProfile* profile = probe.add_sim_profiles();
    profile->set_name(std::string(p.name));
    profile->set_description(std::string(p.description));
    profile->set_vendor(std::string(cpu::CpuVendorName(p.vendor)));
    *profile->mutable_pmu() = pmu::HostPmuOfProfile(p);
  }
  // The sim profile made from this host's KVM, where there is one to ask.
  if (absl::StatusOr<std::unique_ptr<hv::Hypervisor>> kvm = hv::OpenHypervisor(hv::BackendKind::kKvm, ""); kvm.ok()) {
    const cpu::HostProfile& host = cpu::HostProfileFromKvm((*kvm)->HostReport());
    vmd::v1::SimProfile* profile = probe.add_sim_profiles();
    profile->set_name(std::string(host.name));
    profile->set_description(std::string(host.description));
    profile->set_vendor(std::string(cpu::CpuVendorName(host.vendor)));
    *profile->mutable_pmu() = pmu::HostPmuOfProfile(host);
    *probe.mutable_pmu() = ProbeHostPmu(&(*kvm)->HostReport());
  } else {
    *probe.mutable_pmu() = ProbeHostPmu(nullptr);
  }
  probe.set_default_sim_profile(std::string(cpu::DefaultHostProfile().name));
  probe.set_cpu_vendor(std::string(cpu::CpuVendorName(HostCpuVendor())));
  for (vmd::v1::SandboxLayer& layer : ProbeSandboxLayers()) *probe.add_sandbox_layers() = std::move(layer);
  return probe;
}

std::string ProbeHostJson() { return rpc::ToJson(ProbeHost()); }

}  // namespace vmd::engine

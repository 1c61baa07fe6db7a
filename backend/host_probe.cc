#include "backend/host_probe.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "backend/hypervisor/hypervisor.h"
#include "backend/hypervisor/sim/sim_profiles.h"
#include "nlohmann/json.hpp"

namespace vmd::engine {
namespace {

// From CPUID leaf 0's vendor string, as /proc/cpuinfo reports it.
std::string HostCpuVendor() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("vendor_id", 0) == 0) return line.find("AuthenticAMD") != std::string::npos ? "amd" : "intel";
  }
  return "intel";
}

}  // namespace

std::string ProbeHostJson() {
  nlohmann::json j;
  std::string auto_backend = "sim";
  for (const hv::BackendAvailability& b : hv::ProbeBackends()) {
    j["backends"].push_back({{"name", hv::BackendName(b.kind)},
                             {"usable", b.usable},
                             {"reason", b.reason},
                             {"max_vcpus", b.max_vcpus}});
    if (b.kind == hv::BackendKind::kKvm && b.usable) auto_backend = "kvm";
  }
  j["auto_backend"] = auto_backend;
  const uint64_t page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  j["max_memory_mib"] = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * page_size >> 20;
  for (const hv::SimProfile& p : hv::SimProfiles()) {
    j["sim_profiles"].push_back({{"name", p.name},
                                 {"description", p.description},
                                 {"vendor", p.vendor == hv::CpuVendor::kIntel ? "intel" : "amd"}});
  }
  j["default_sim_profile"] = hv::DefaultSimProfile().name;
  j["cpu_vendor"] = HostCpuVendor();
  return j.dump();
}

}  // namespace vmd::engine

#include "backend/engine/host_pmu_probe.h"

#include <cpuid.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "backend/pmu/host_pmu.h"

namespace vmd::engine {
namespace {

cpu::CpuidEntry NativeCpuid(uint32_t function, uint32_t index) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  __cpuid_count(function, index, a, b, c, d);
  return cpu::Subleaf(function, index, a, b, c, d);
}

// The leaves host_pmu.cc reads, each only where the CPU has it.
cpu::CpuidTable NativePmuLeaves() {
  cpu::CpuidTable t;
  const uint32_t max_basic = NativeCpuid(0, 0).eax;
  const uint32_t max_extended = NativeCpuid(0x80000000, 0).eax;
  for (uint32_t leaf : {0u, 1u, 7u, 0xau, 0x1cu}) {
    if (leaf <= max_basic) t.push_back(NativeCpuid(leaf, 0));
  }
  for (uint32_t leaf : {0x80000000u, 0x80000001u, 0x80000022u}) {
    if (leaf <= max_extended) t.push_back(NativeCpuid(leaf, 0));
  }
  return t;
}

std::string ReadLine(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

}  // namespace

vmd::v1::HostPmu ProbeHostPmu(const cpu::KvmHostReport* kvm, const std::string& sys_root) {
  pmu::HostPmuFacts f;
  f.native_cpuid = NativePmuLeaves();
  f.kvm = kvm;
  const std::string enable_pmu = ReadLine(std::filesystem::path(sys_root) / "module/kvm/parameters/enable_pmu");
  if (!enable_pmu.empty()) f.enable_pmu = enable_pmu == "Y" || enable_pmu == "1";
  const std::filesystem::path cpu_pmu = std::filesystem::path(sys_root) / "bus/event_source/devices/cpu";
  std::error_code ec;
  f.perf_cpu_pmu = std::filesystem::exists(cpu_pmu, ec);
  if (f.perf_cpu_pmu) {
    f.perf_pmu_name = ReadLine(cpu_pmu / "caps/pmu_name");
    f.perf_branches = static_cast<uint32_t>(std::strtoul(ReadLine(cpu_pmu / "caps/branches").c_str(), nullptr, 10));
  }
  return pmu::DescribeHostPmu(f);
}

}  // namespace vmd::engine

#include "backend/cpu/kvm_host_report.h"

#include <memory>
#include <mutex>

namespace vmd::cpu {
namespace {

constexpr uint32_t kMsrArchCapabilities = 0x10a;

struct HostProfileStorage {
  CpuidTable cpuid;
  HostProfile profile;
};

}  // namespace

const HostProfile& HostProfileFromKvm(const KvmHostReport& report) {
  static std::once_flag once;
  static HostProfileStorage* storage = nullptr;
  std::call_once(once, [&] {
    storage = new HostProfileStorage{report.supported_cpuid, {}};
    // CPUID.1:EAX: the extended family adds to family 0xf; the extended
    // model is the high nibble for families 6 and 0xf and up (SDM vol. 2A).
    const uint32_t sig = LookupCpuid(report.supported_cpuid, 1, 0).eax;
    const uint32_t base_family = (sig >> 8) & 0xf;
    const uint32_t family = base_family == 0xf ? base_family + ((sig >> 20) & 0xff) : base_family;
    const uint32_t model =
        (base_family == 6 || base_family == 0xf) ? (((sig >> 16) & 0xf) << 4) | ((sig >> 4) & 0xf) : (sig >> 4) & 0xf;
    const auto arch_caps = report.feature_msrs.find(kMsrArchCapabilities);
    storage->profile = HostProfile{
        .name = "host",
        .description = "this host, as its KVM reports it (supported CPUID, MSR lists, feature MSRs); no vPMU",
        .vendor = VendorOf(report.supported_cpuid).value_or(CpuVendor::kIntel),
        .family = family,
        .model = model,
        .stepping = sig & 0xf,
        .max_vcpus = report.max_vcpus,
        .tsc_khz = report.tsc_khz,
        .pmu = {},
        .kernel_vpmu_version = 0,
        .arch_capabilities = arch_caps == report.feature_msrs.end() ? 0 : arch_caps->second,
        .base_cpuid = &storage->cpuid,
    };
  });
  return storage->profile;
}

}  // namespace vmd::cpu

#include "backend/hypervisor/kvm/kvm_capabilities.h"

#include <linux/kvm.h>

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_fd.h"

namespace vmd::hv::kvm {
namespace {

constexpr std::array kRequired = {
    RequiredCapability{KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP", "in-kernel local APICs"},
    RequiredCapability{KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY", "guest memory slots"},
    RequiredCapability{KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR", "VMX TSS area"},
    RequiredCapability{KVM_CAP_SET_IDENTITY_MAP_ADDR, "KVM_CAP_SET_IDENTITY_MAP_ADDR",
                       "VMX identity-map page"},
    RequiredCapability{KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID", "per-vCPU CPUID"},
    RequiredCapability{KVM_CAP_MP_STATE, "KVM_CAP_MP_STATE",
                       "starting application processors without INIT/SIPI"},
    RequiredCapability{KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT", "lossless vCPU kicks"},
    RequiredCapability{KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI", "interrupt injection"},
    RequiredCapability{KVM_CAP_IRQFD, "KVM_CAP_IRQFD", "device interrupts through eventfds"},
    RequiredCapability{KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING", "GSI to MSI routes"},
    RequiredCapability{KVM_CAP_X2APIC_API, "KVM_CAP_X2APIC_API", "32-bit x2APIC ids in MSIs",
                       KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK},
    RequiredCapability{KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR",
                       "user-space MSR exits"},
    RequiredCapability{KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER", "MSR policy"},
    RequiredCapability{KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ", "guest TSC frequency"},
    RequiredCapability{KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD", "device doorbells without exits"},
    RequiredCapability{KVM_CAP_XSAVE, "KVM_CAP_XSAVE", "saving FPU/vector state"},
    RequiredCapability{KVM_CAP_XCRS, "KVM_CAP_XCRS", "saving XCR0"},
    RequiredCapability{KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS", "saving pending events"},
    RequiredCapability{KVM_CAP_DEBUGREGS, "KVM_CAP_DEBUGREGS", "saving debug registers"},
    RequiredCapability{KVM_CAP_ADJUST_CLOCK, "KVM_CAP_ADJUST_CLOCK", "saving the VM clock"},
};

}  // namespace

std::span<const RequiredCapability> RequiredCapabilities() { return kRequired; }

std::vector<std::string> MissingCapabilities(int kvm_fd) {
  std::vector<std::string> missing;
  for (const RequiredCapability& required : kRequired) {
    int value = CheckExtension(kvm_fd, required.capability);
    if (value <= 0) {
      missing.emplace_back(required.name);
    } else if ((static_cast<uint64_t>(value) & required.required_bits) != required.required_bits) {
      missing.push_back(absl::StrCat(required.name, " (has 0x", absl::Hex(value), ", needs 0x",
                                     absl::Hex(required.required_bits), ")"));
    }
  }
  return missing;
}

uint32_t MaxVcpus(int kvm_fd) {
  int max_vcpus = CheckExtension(kvm_fd, KVM_CAP_MAX_VCPUS);
  if (max_vcpus <= 0) max_vcpus = CheckExtension(kvm_fd, KVM_CAP_NR_VCPUS);
  if (max_vcpus <= 0) max_vcpus = 4;
  int max_vcpu_id = CheckExtension(kvm_fd, KVM_CAP_MAX_VCPU_ID);
  if (max_vcpu_id > 0) max_vcpus = std::min(max_vcpus, max_vcpu_id);
  return static_cast<uint32_t>(max_vcpus);
}

}  // namespace vmd::hv::kvm

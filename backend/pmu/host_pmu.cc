#include "backend/pmu/host_pmu.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/cpu/cpu_vendor.h"
#include "backend/pmu/perf_capabilities.h"

namespace vmd::pmu {
namespace {

constexpr uint32_t kMsrPerfCapabilities = 0x345;
constexpr uint32_t kLeaf1EcxPdcm = 1u << 15;
constexpr uint32_t kLeaf7EdxArchLbr = 1u << 19;
// AMD: CPUID 0x80000001:ECX[23] PerfCtrExtCore (6 core counters),
// 0x80000022 EAX[0] PerfMonV2 with EBX[3:0] core counters.
constexpr uint32_t kAmdPerfCtrExtCore = 1u << 23;

uint32_t Bits(uint32_t v, int lo, int n) { return (v >> lo) & ((1u << n) - 1); }

// The Intel architectural PMU a CPUID table describes (leaf 0xA, 0x1C).
void ReadIntelLeaves(const cpu::CpuidTable& cpuid, v1::HostPmu& pmu) {
  const cpu::CpuidEntry a = cpu::LookupCpuid(cpuid, 0xa, 0);
  pmu.set_version(Bits(a.eax, 0, 8));
  pmu.set_gp_counters(Bits(a.eax, 8, 8));
  pmu.set_gp_counter_width(Bits(a.eax, 16, 8));
  pmu.set_event_mask_length(Bits(a.eax, 24, 8));
  pmu.set_unavailable_events(a.ebx);
  pmu.set_fixed_counters(Bits(a.edx, 0, 5));
  pmu.set_fixed_counter_width(Bits(a.edx, 5, 8));
  if (cpu::LookupCpuid(cpuid, 7, 0).edx & kLeaf7EdxArchLbr) {
    pmu.set_arch_lbr_depth_bitmap(Bits(cpu::LookupCpuid(cpuid, 0x1c, 0).eax, 0, 8));
  }
}

// AMD core counters: PerfMonV2 ("version 2") or PerfCtrExtCore (6), else
// none a guest could use.
void ReadAmdLeaves(const cpu::CpuidTable& cpuid, v1::HostPmu& pmu) {
  const cpu::CpuidEntry v2 = cpu::LookupCpuid(cpuid, 0x80000022, 0);
  if (v2.eax & 1) {
    pmu.set_version(2);
    pmu.set_gp_counters(Bits(v2.ebx, 0, 4));
  } else if (cpu::LookupCpuid(cpuid, 0x80000001, 0).ecx & kAmdPerfCtrExtCore) {
    pmu.set_version(1);
    pmu.set_gp_counters(6);
  }
  if (pmu.gp_counters() != 0) pmu.set_gp_counter_width(48);
}

uint32_t CpuModel(uint32_t signature, uint32_t* family) {
  const uint32_t base_family = (signature >> 8) & 0xf;
  *family = base_family == 0xf ? base_family + ((signature >> 20) & 0xff) : base_family;
  return (base_family == 6 || base_family == 0xf) ? (((signature >> 16) & 0xf) << 4) | ((signature >> 4) & 0xf)
                                                  : (signature >> 4) & 0xf;
}

}  // namespace

v1::HostPmu HostPmuOfProfile(const cpu::HostProfile& p) {
  v1::HostPmu pmu;
  const cpu::PmuDescription& d = p.pmu;
  pmu.set_vendor(std::string(cpu::CpuVendorName(p.vendor)));
  pmu.set_cpu_family(p.family);
  pmu.set_cpu_model(p.model);
  pmu.set_present(d.version > 0);
  if (d.version == 0) pmu.set_reason(absl::StrCat("profile ", p.name, " has no PMU"));
  pmu.set_version(d.version);
  pmu.set_gp_counters(d.gp_counters);
  pmu.set_gp_counter_width(d.gp_counter_width);
  pmu.set_fixed_counters(d.fixed_counters);
  pmu.set_fixed_counter_width(d.fixed_counter_width);
  pmu.set_unavailable_events(d.unavailable_events);
  pmu.set_event_mask_length(d.event_mask_length);
  pmu.set_lbr_format(d.lbr_format);
  pmu.set_lbr_depth(d.lbr_depth);
  pmu.set_arch_lbr_depth_bitmap(d.arch_lbr_depth_bitmap);
  pmu.set_pebs_format(d.pebs_format);
  pmu.set_pebs_baseline(d.pebs_baseline);
  pmu.set_guest_pebs(d.guest_pebs);
  pmu.set_host_uses_pebs(d.host_uses_pebs);
  pmu.set_perf_capabilities(d.perf_capabilities);
  pmu.set_perf_pmu(d.version > 0 ? "modelled by the profile" : "none");
  pmu.set_engine_max_version(kEngineMaxVersion);
  v1::KvmVpmu& kvm = *pmu.mutable_kvm();
  kvm.set_enable_pmu(p.kernel_vpmu_version > 0);
  kvm.set_available(d.version > 0 && p.kernel_vpmu_version > 0);
  if (!kvm.available()) {
    kvm.set_reason(d.version == 0 ? "the host has no PMU" : "the profile's kernel gives guests no vPMU");
  }
  kvm.set_max_version(std::min(d.version, p.kernel_vpmu_version));
  kvm.set_pmu_capability(p.kernel_vpmu_version > 0);
  kvm.set_event_filter(p.kernel_vpmu_version > 0);
  kvm.set_arch_lbr(p.kernel_arch_lbr && d.arch_lbr_depth_bitmap != 0);
  return pmu;
}

v1::HostPmu DescribeHostPmu(const HostPmuFacts& f) {
  v1::HostPmu pmu;
  const cpu::CpuVendor vendor = cpu::VendorOf(f.native_cpuid).value_or(cpu::CpuVendor::kIntel);
  pmu.set_vendor(std::string(cpu::CpuVendorName(vendor)));
  uint32_t family = 0;
  pmu.set_cpu_model(CpuModel(cpu::LookupCpuid(f.native_cpuid, 1, 0).eax, &family));
  pmu.set_cpu_family(family);
  pmu.set_engine_max_version(kEngineMaxVersion);

  // The hardware, as the CPU itself describes it.
  if (vendor == cpu::CpuVendor::kAmd) {
    ReadAmdLeaves(f.native_cpuid, pmu);
  } else {
    ReadIntelLeaves(f.native_cpuid, pmu);
  }
  const bool pdcm = cpu::LookupCpuid(f.native_cpuid, 1, 0).ecx & kLeaf1EcxPdcm;
  std::vector<std::string> missing;
  if (pmu.version() == 0) {
    missing.push_back(vendor == cpu::CpuVendor::kAmd
                          ? "CPUID 0x80000022 (PerfMonV2) and 0x80000001:ECX[23] (PerfCtrExtCore) are clear"
                          : "CPUID 0xA reports version 0");
  }
  if (!f.perf_cpu_pmu) missing.push_back("the kernel has no perf 'cpu' PMU (/sys/bus/event_source/devices/cpu)");
  pmu.set_present(pmu.version() > 0 && f.perf_cpu_pmu);
  if (!pmu.present()) {
    pmu.set_reason(absl::StrCat("no hardware PMU: ", absl::StrJoin(missing, "; "),
                                " (a virtual machine without a vPMU, as a nested host often is)"));
  }
  pmu.set_perf_pmu(f.perf_cpu_pmu ? absl::StrCat(f.perf_pmu_name.empty() ? "cpu" : f.perf_pmu_name,
                                                 f.perf_branches ? absl::StrCat(", ", f.perf_branches, " LBR entries")
                                                                 : std::string())
                                  : "absent");
  pmu.set_lbr_depth(f.perf_branches);

  // KVM: its supported CPUID is the vPMU it gives; PERF_CAPABILITIES from
  // the feature MSRs (KVM_GET_MSRS on /dev/kvm) where it lists it.
  v1::KvmVpmu& kvm = *pmu.mutable_kvm();
  kvm.set_enable_pmu(f.enable_pmu.value_or(false));
  if (f.kvm != nullptr) {
    kvm.set_pmu_capability(f.kvm->pmu_capability != 0);
    kvm.set_event_filter(f.kvm->pmu_event_filter);
    v1::HostPmu offered;
    if (vendor == cpu::CpuVendor::kAmd) {
      ReadAmdLeaves(f.kvm->supported_cpuid, offered);
    } else {
      ReadIntelLeaves(f.kvm->supported_cpuid, offered);
    }
    kvm.set_max_version(offered.version());
    if (auto caps = f.kvm->feature_msrs.find(kMsrPerfCapabilities); caps != f.kvm->feature_msrs.end() && pdcm) {
      pmu.set_perf_capabilities(caps->second);
      pmu.set_lbr_format(static_cast<uint32_t>(caps->second & kPerfCapLbrFormat));
      pmu.set_pebs_format(static_cast<uint32_t>((caps->second & kPerfCapPebsFormat) >> 8));
      pmu.set_pebs_baseline(caps->second & kPerfCapPebsBaseline);
      pmu.set_guest_pebs(pmu.pebs_format() != 0);
    }
  }
  if (!f.enable_pmu.has_value()) {
    kvm.set_reason("the kvm module's enable_pmu is unreadable (/sys/module/kvm/parameters/enable_pmu)");
  } else if (!*f.enable_pmu) {
    kvm.set_reason("kvm.enable_pmu=N: KVM gives guests no vPMU");
  } else if (!pmu.present()) {
    kvm.set_reason("KVM has no hardware PMU to virtualize");
  } else if (kvm.max_version() == 0) {
    kvm.set_reason("KVM_GET_SUPPORTED_CPUID offers no PMU");
  }
  kvm.set_available(kvm.reason().empty());
  return pmu;
}

}  // namespace vmd::pmu

#include "backend/cpu/cpuid_builder.h"

#include <algorithm>
#include <bit>

namespace vmd::cpu {
namespace {

constexpr uint32_t kLeaf1EcxDtes64 = 1u << 2;
constexpr uint32_t kLeaf1EcxPdcm = 1u << 15;
constexpr uint32_t kLeaf1EdxDs = 1u << 21;
constexpr uint32_t kLeaf1EcxX2apic = 1u << 21;
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kLeaf1EdxHtt = 1u << 28;
constexpr uint32_t kLeaf7EdxArchLbr = 1u << 19;
constexpr uint32_t kExtLeaf1EcxCmpLegacy = 1u << 1;
constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;
constexpr uint32_t kPmuLeaf = 0xa;
constexpr uint32_t kArchLbrLeaf = 0x1c;

// x2APIC-id bits that select the core: ceil(log2(vcpus)).
uint32_t CoreIdBits(uint32_t vcpus) { return vcpus <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(vcpus - 1)); }

void RaiseMaxBasicLeaf(CpuidTable& table, uint32_t leaf) {
  if (CpuidEntry* leaf0 = FindCpuid(table, 0); leaf0 != nullptr && leaf0->eax < leaf) leaf0->eax = leaf;
}

// Replaces `function` (every subleaf) with `entry`.
void Replace(CpuidTable& table, const CpuidEntry& entry) {
  std::erase_if(table, [&](const CpuidEntry& e) { return e.function == entry.function; });
  table.push_back(entry);
}

// Replaces all subleaves of `function` with an extended-topology description.
void SetExtendedTopology(CpuidTable& table, uint32_t function, const VcpuTopology& t) {
  std::erase_if(table, [&](const CpuidEntry& e) { return e.function == function; });
  auto level = [&](uint32_t index, uint32_t shift, uint32_t count, uint32_t type) {
    table.push_back(Subleaf(function, index, shift, count, (type << 8) | index, t.vcpu_id));
  };
  level(0, 0, 1, kTopologyLevelSmt);                           // 1 thread per core
  level(1, CoreIdBits(t.vcpus), t.vcpus, kTopologyLevelCore);  // vcpus cores
  level(2, 0, 0, 0);                                           // end of levels
}

}  // namespace

void SetPmuLeaves(CpuidTable& table, const GuestPmuLeaves& pmu) {
  RaiseMaxBasicLeaf(table, kPmuLeaf);
  Replace(table, Leaf(kPmuLeaf,
                      (pmu.version & 0xff) | ((pmu.gp_counters & 0xff) << 8) |
                          ((pmu.gp_counter_width & 0xff) << 16) | ((pmu.event_mask_length & 0xff) << 24),
                      pmu.unavailable_events, pmu.version >= 5 ? pmu.fixed_counter_bitmap : 0,
                      (pmu.fixed_counters & 0x1f) | ((pmu.fixed_counter_width & 0xff) << 5)));
  if (CpuidEntry* leaf1 = FindCpuid(table, 1)) {
    auto set = [](uint32_t& reg, uint32_t bit, bool on) { reg = on ? reg | bit : reg & ~bit; };
    set(leaf1->ecx, kLeaf1EcxPdcm, pmu.pdcm);
    set(leaf1->ecx, kLeaf1EcxDtes64, pmu.dtes64);
    set(leaf1->edx, kLeaf1EdxDs, pmu.ds);
  }
  if (pmu.arch_lbr_depth_bitmap != 0) {
    RaiseMaxBasicLeaf(table, kArchLbrLeaf);
    Replace(table, Subleaf(kArchLbrLeaf, 0, pmu.arch_lbr_depth_bitmap & 0xff, pmu.arch_lbr_ebx, pmu.arch_lbr_ecx, 0));
  } else {
    std::erase_if(table, [](const CpuidEntry& e) { return e.function == kArchLbrLeaf; });
  }
  // Looked up last: Replace() moves entries.
  if (CpuidEntry* leaf7 = FindCpuid(table, 7, 0)) {
    leaf7->edx = pmu.arch_lbr_depth_bitmap != 0 ? leaf7->edx | kLeaf7EdxArchLbr : leaf7->edx & ~kLeaf7EdxArchLbr;
  }
}

CpuidTable BuildVcpuCpuid(std::span<const CpuidEntry> base, const VcpuTopology& t, const CpuidOptions& options) {
  CpuidTable table(base.begin(), base.end());
  const uint32_t logical_count = std::min<uint32_t>(t.vcpus, 255);

  if (CpuidEntry* leaf1 = FindCpuid(table, 1)) {
    leaf1->ebx = (leaf1->ebx & 0x0000ffffu) | (logical_count << 16) | ((t.vcpu_id & 0xffu) << 24);
    leaf1->ecx |= kLeaf1EcxX2apic | kLeaf1EcxHypervisor;
    leaf1->edx = t.vcpus > 1 ? leaf1->edx | kLeaf1EdxHtt : leaf1->edx & ~kLeaf1EdxHtt;
  }

  RaiseMaxBasicLeaf(table, 0xb);
  SetExtendedTopology(table, 0xb, t);
  if (FindCpuid(base, 0x1f) != nullptr) SetExtendedTopology(table, 0x1f, t);

  // Deterministic cache parameters: EAX[31:26] = cores per package - 1.
  for (CpuidEntry& e : table) {
    if (e.function == 4 && (e.eax & 0x1f) != 0) {
      e.eax = (e.eax & 0x03ffffffu) | ((std::min<uint32_t>(t.vcpus, 64) - 1) << 26);
    }
  }

  if (VendorOf(base) == CpuVendor::kAmd) {
    if (CpuidEntry* ext1 = FindCpuid(table, 0x80000001)) {
      ext1->ecx = t.vcpus > 1 ? ext1->ecx | kExtLeaf1EcxCmpLegacy : ext1->ecx & ~kExtLeaf1EcxCmpLegacy;
    }
    if (CpuidEntry* ext8 = FindCpuid(table, 0x80000008)) {
      // ECX[7:0] = cores - 1, ECX[15:12] = APIC id bits for the core id.
      ext8->ecx = (ext8->ecx & ~0xf0ffu) | ((logical_count - 1) & 0xff) | (CoreIdBits(t.vcpus) << 12);
    }
    if (CpuidEntry* ext1e = FindCpuid(table, 0x8000001e)) {
      ext1e->eax = t.vcpu_id;          // extended APIC id
      ext1e->ebx = t.vcpu_id & 0xffu;  // core id, 1 thread per core
      ext1e->ecx = 0;                  // node 0, 1 node per package
    }
  }
  if (options.pmu) SetPmuLeaves(table, *options.pmu);
  if (options.vendor) {
    const VendorRegisters v = CpuidVendorRegisters(*options.vendor);
    for (uint32_t function : {0u, 0x80000000u}) {
      if (CpuidEntry* e = FindCpuid(table, function)) {
        e->ebx = v.ebx;
        e->ecx = v.ecx;
        e->edx = v.edx;
      }
    }
  }
  return table;
}

}  // namespace vmd::cpu

#include "backend/hypervisor/kvm/kvm_cpuid.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"

namespace vmd::hv::kvm {
namespace {

constexpr uint32_t kLeaf1EcxX2apic = 1u << 21;
constexpr uint32_t kLeaf1EcxHypervisor = 1u << 31;
constexpr uint32_t kLeaf1EdxHtt = 1u << 28;
constexpr uint32_t kExtLeaf1EcxCmpLegacy = 1u << 1;
constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;
constexpr int kMaxCpuidEntries = 4096;

// A kvm_cpuid2 in the kernel's layout (see kvm_uapi.h): header, then entries.
class Cpuid2Buffer {
 public:
  explicit Cpuid2Buffer(size_t n)
      : words_((sizeof(Cpuid2Header) + n * sizeof(kvm_cpuid_entry2)) / sizeof(uint64_t), 0) {
    header()->nent = static_cast<uint32_t>(n);
  }
  Cpuid2Header* header() { return reinterpret_cast<Cpuid2Header*>(words_.data()); }
  kvm_cpuid_entry2* entries() { return reinterpret_cast<kvm_cpuid_entry2*>(header() + 1); }

 private:
  std::vector<uint64_t> words_;  // 8-byte aligned storage
};
static_assert(sizeof(Cpuid2Header) % sizeof(uint64_t) == 0);
static_assert(sizeof(kvm_cpuid_entry2) % sizeof(uint64_t) == 0);

bool IsVendor(std::span<const kvm_cpuid_entry2> entries, const char (&vendor)[13]) {
  const kvm_cpuid_entry2* leaf0 = FindCpuid(entries, 0);
  if (leaf0 == nullptr) return false;
  char id[12];
  std::memcpy(id, &leaf0->ebx, 4);
  std::memcpy(id + 4, &leaf0->edx, 4);
  std::memcpy(id + 8, &leaf0->ecx, 4);
  return std::memcmp(id, vendor, 12) == 0;
}

kvm_cpuid_entry2* FindMutable(CpuidEntries& entries, uint32_t function, uint32_t index = 0) {
  return const_cast<kvm_cpuid_entry2*>(FindCpuid(entries, function, index));
}

// x2APIC-id bits that select the core: ceil(log2(vcpus)).
uint32_t CoreIdBits(uint32_t vcpus) {
  return vcpus <= 1 ? 0 : static_cast<uint32_t>(std::bit_width(vcpus - 1));
}

// Replaces all subleaves of `function` with an extended-topology description.
void SetExtendedTopology(CpuidEntries& entries, uint32_t function, uint32_t vcpu_id,
                         uint32_t vcpus) {
  std::erase_if(entries, [&](const kvm_cpuid_entry2& e) { return e.function == function; });
  auto level = [&](uint32_t index, uint32_t shift, uint32_t count, uint32_t type) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.index = index;
    e.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    e.eax = shift;
    e.ebx = count;
    e.ecx = (type << 8) | index;
    e.edx = vcpu_id;
    entries.push_back(e);
  };
  level(0, 0, 1, kTopologyLevelSmt);                          // 1 thread per core
  level(1, CoreIdBits(vcpus), vcpus, kTopologyLevelCore);     // vcpus cores
  level(2, 0, 0, 0);                                          // end of levels
}

}  // namespace

const kvm_cpuid_entry2* FindCpuid(std::span<const kvm_cpuid_entry2> entries, uint32_t function,
                                  uint32_t index) {
  for (const kvm_cpuid_entry2& e : entries) {
    if (e.function != function) continue;
    if ((e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0 && e.index != index) continue;
    return &e;
  }
  return nullptr;
}

absl::StatusOr<CpuidEntries> GetSupportedCpuid(int kvm_fd) {
  for (size_t n = 256; n <= kMaxCpuidEntries; n *= 2) {
    Cpuid2Buffer cpuid(n);
    if (ioctl(kvm_fd, kKvmGetSupportedCpuid, cpuid.header()) == 0) {
      return CpuidEntries(cpuid.entries(), cpuid.entries() + cpuid.header()->nent);
    }
    if (errno != E2BIG) return IoctlError("KVM_GET_SUPPORTED_CPUID", errno);
  }
  return IoctlError("KVM_GET_SUPPORTED_CPUID", E2BIG);
}

CpuidEntries BuildVcpuCpuid(std::span<const kvm_cpuid_entry2> supported, uint32_t vcpu_id,
                            uint32_t vcpus) {
  CpuidEntries entries(supported.begin(), supported.end());
  const uint32_t logical_count = std::min<uint32_t>(vcpus, 255);

  if (kvm_cpuid_entry2* leaf1 = FindMutable(entries, 1)) {
    leaf1->ebx = (leaf1->ebx & 0x0000ffffu) | (logical_count << 16) | ((vcpu_id & 0xffu) << 24);
    leaf1->ecx |= kLeaf1EcxX2apic | kLeaf1EcxHypervisor;
    if (vcpus > 1) {
      leaf1->edx |= kLeaf1EdxHtt;
    } else {
      leaf1->edx &= ~kLeaf1EdxHtt;
    }
  }

  if (kvm_cpuid_entry2* leaf0 = FindMutable(entries, 0); leaf0 != nullptr && leaf0->eax < 0xb) {
    leaf0->eax = 0xb;
  }
  SetExtendedTopology(entries, 0xb, vcpu_id, vcpus);
  if (FindCpuid(supported, 0x1f) != nullptr) SetExtendedTopology(entries, 0x1f, vcpu_id, vcpus);

  // Deterministic cache parameters: EAX[31:26] = cores per package - 1.
  for (kvm_cpuid_entry2& e : entries) {
    if (e.function == 4 && (e.eax & 0x1f) != 0) {
      e.eax = (e.eax & 0x03ffffffu) | ((std::min<uint32_t>(vcpus, 64) - 1) << 26);
    }
  }

  if (IsVendor(supported, "AuthenticAMD")) {
    if (kvm_cpuid_entry2* ext1 = FindMutable(entries, 0x80000001)) {
      if (vcpus > 1) {
        ext1->ecx |= kExtLeaf1EcxCmpLegacy;
      } else {
        ext1->ecx &= ~kExtLeaf1EcxCmpLegacy;
      }
    }
    if (kvm_cpuid_entry2* ext8 = FindMutable(entries, 0x80000008)) {
      // ECX[7:0] = cores - 1, ECX[15:12] = APIC id bits for the core id.
      ext8->ecx = (ext8->ecx & ~0xf0ffu) | ((logical_count - 1) & 0xff) |
                  (CoreIdBits(vcpus) << 12);
    }
    if (kvm_cpuid_entry2* ext1e = FindMutable(entries, 0x8000001e)) {
      ext1e->eax = vcpu_id;              // extended APIC id
      ext1e->ebx = vcpu_id & 0xffu;      // core id, 1 thread per core
      ext1e->ecx = 0;                    // node 0, 1 node per package
    }
  }
  return entries;
}

absl::Status SetVcpuCpuid(int vcpu_fd, std::span<const kvm_cpuid_entry2> entries) {
  Cpuid2Buffer cpuid(entries.size());
  std::copy(entries.begin(), entries.end(), cpuid.entries());
  return Ioctl(vcpu_fd, kKvmSetCpuid2, "KVM_SET_CPUID2", cpuid.header()).status();
}

}  // namespace vmd::hv::kvm

#include "backend/hypervisor/kvm/kvm_cpuid.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <vector>

#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"

namespace vmd::hv::kvm {
namespace {

constexpr size_t kMaxCpuidEntries = 4096;

// A kvm_cpuid2 in the kernel's layout (see kvm_uapi.h): header, then entries.
class Cpuid2Buffer {
 public:
  explicit Cpuid2Buffer(size_t n)
      : words_((sizeof(Cpuid2Header) + n * sizeof(kvm_cpuid_entry2)) / sizeof(uint64_t), 0) {
    header()->nent = static_cast<uint32_t>(n);
  }
  Cpuid2Header* header() { return reinterpret_cast<Cpuid2Header*>(words_.data()); }
  kvm_cpuid_entry2* entries() { return reinterpret_cast<kvm_cpuid_entry2*>(header() + 1); }

  cpu::CpuidTable Table() {
    cpu::CpuidTable table;
    for (uint32_t i = 0; i < header()->nent; ++i) {
      const kvm_cpuid_entry2& e = entries()[i];
      table.push_back({.function = e.function,
                       .index = e.index,
                       .significant_index = (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0,
                       .eax = e.eax, .ebx = e.ebx, .ecx = e.ecx, .edx = e.edx});
    }
    return table;
  }

 private:
  std::vector<uint64_t> words_;  // 8-byte aligned storage
};
static_assert(sizeof(Cpuid2Header) % sizeof(uint64_t) == 0);
static_assert(sizeof(kvm_cpuid_entry2) % sizeof(uint64_t) == 0);

// Calls `request` with a growing buffer until KVM stops answering E2BIG.
absl::StatusOr<cpu::CpuidTable> ReadCpuid(int fd, unsigned long request, const char* name) {
  for (size_t n = 256; n <= kMaxCpuidEntries; n *= 2) {
    Cpuid2Buffer cpuid(n);
    if (ioctl(fd, request, cpuid.header()) == 0) return cpuid.Table();
    if (errno != E2BIG) return IoctlError(name, errno);
  }
  return IoctlError(name, E2BIG);
}

}  // namespace

absl::StatusOr<cpu::CpuidTable> GetSupportedCpuid(int kvm_fd) {
  return ReadCpuid(kvm_fd, kKvmGetSupportedCpuid, "KVM_GET_SUPPORTED_CPUID");
}

absl::StatusOr<cpu::CpuidTable> GetVcpuCpuid(int vcpu_fd) {
  return ReadCpuid(vcpu_fd, kKvmGetCpuid2, "KVM_GET_CPUID2");
}

absl::Status SetVcpuCpuid(int vcpu_fd, std::span<const cpu::CpuidEntry> entries) {
  Cpuid2Buffer cpuid(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const cpu::CpuidEntry& e = entries[i];
    kvm_cpuid_entry2& k = cpuid.entries()[i];
    k.function = e.function;
    k.index = e.index;
    k.flags = e.significant_index ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    k.eax = e.eax;
    k.ebx = e.ebx;
    k.ecx = e.ecx;
    k.edx = e.edx;
  }
  return Ioctl(vcpu_fd, kKvmSetCpuid2, "KVM_SET_CPUID2", cpuid.header()).status();
}

}  // namespace vmd::hv::kvm

// Fixes for <linux/kvm.h> as C++ sees it on Debian 12 (Linux 6.1 uapi).
//
// The 6.1 headers declare flexible arrays with __DECLARE_FLEX_ARRAY, which
// wraps them in a struct with an empty struct member. An empty struct has
// size 0 in C but 1 in C++, so in C++ `struct kvm_cpuid2` is 12 bytes with its
// entries at offset 12 instead of 8 -- and the ioctl numbers built from
// sizeof (KVM_GET_SUPPORTED_CPUID, KVM_SET_CPUID2, KVM_GET/SET_MSRS,
// KVM_SET_GSI_ROUTING, KVM_GET_MSR_INDEX_LIST, KVM_GET/SET_XSAVE, ...) are
// wrong too (the kernel answers EINVAL or ENOTTY). Later kernels
// special-case C++. Until then, use these kernel-layout headers and ioctl
// numbers instead.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_UAPI_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_UAPI_H_

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstdint>

namespace vmd::hv::kvm {

// struct kvm_cpuid2 without its entries; kvm_cpuid_entry2[nent] follow.
struct Cpuid2Header {
  uint32_t nent;
  uint32_t padding;
};
static_assert(sizeof(Cpuid2Header) == 8);

// struct kvm_msrs without its entries; kvm_msr_entry[nmsrs] follow.
struct MsrsHeader {
  uint32_t nmsrs;
  uint32_t pad;
};
static_assert(sizeof(MsrsHeader) == 8);

// struct kvm_irq_routing without its entries; kvm_irq_routing_entry[nr]
// follow.
struct IrqRoutingHeader {
  uint32_t nr;
  uint32_t flags;
};
static_assert(sizeof(IrqRoutingHeader) == 8);

// struct kvm_msr_list without its indices; u32 indices[nmsrs] follow.
struct MsrListHeader {
  uint32_t nmsrs;
};
static_assert(sizeof(MsrListHeader) == 4);

// struct kvm_xsave's fixed part: 4096 bytes (KVM_GET_XSAVE2 may return more,
// KVM_CAP_XSAVE2 says how many).
struct XsaveArea {
  uint32_t region[1024];
};
static_assert(sizeof(XsaveArea) == 4096);

inline constexpr unsigned long kKvmGetMsrIndexList = _IOWR(KVMIO, 0x02, MsrListHeader);
inline constexpr unsigned long kKvmGetMsrFeatureIndexList = _IOWR(KVMIO, 0x0a, MsrListHeader);
inline constexpr unsigned long kKvmGetXsave = _IOR(KVMIO, 0xa4, XsaveArea);
inline constexpr unsigned long kKvmSetXsave = _IOW(KVMIO, 0xa5, XsaveArea);
inline constexpr unsigned long kKvmGetXsave2 = _IOR(KVMIO, 0xcf, XsaveArea);
inline constexpr unsigned long kKvmGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long kKvmSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long kKvmGetCpuid2 = _IOWR(KVMIO, 0x91, Cpuid2Header);
inline constexpr unsigned long kKvmGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kKvmSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kKvmSetGsiRouting = _IOW(KVMIO, 0x6a, IrqRoutingHeader);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_UAPI_H_

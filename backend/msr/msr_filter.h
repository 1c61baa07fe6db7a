// A backend-neutral form of KVM's MSR filter (KVM_X86_SET_MSR_FILTER), and
// KvmAllows(): the kernel's lookup, bit for bit.
//
// Both backends use this: the kvm backend turns an MsrFilter into
// struct kvm_msr_filter (the bitmaps are laid out and sized exactly as the
// kernel reads them); the sim backend evaluates KvmAllows() itself, so
// KvmAllows() is the sim's model of the kernel and follows kvm_msr_allowed()
// and kvm_vm_ioctl_set_msr_filter() in arch/x86/kvm/x86.c.
#ifndef VMD_BACKEND_MSR_MSR_FILTER_H_
#define VMD_BACKEND_MSR_MSR_FILTER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"

namespace vmd::msr {

// KVM's uapi values (arch/x86/include/uapi/asm/kvm.h, include/uapi/linux/kvm.h),
// repeated so that users of this library need no kernel headers.
inline constexpr uint32_t kMsrFilterRead = 1 << 0;   // KVM_MSR_FILTER_READ
inline constexpr uint32_t kMsrFilterWrite = 1 << 1;  // KVM_MSR_FILTER_WRITE
inline constexpr uint32_t kMsrFilterReadWrite = kMsrFilterRead | kMsrFilterWrite;
inline constexpr uint32_t kMsrExitReasonInval = 1 << 0;    // KVM_MSR_EXIT_REASON_INVAL
inline constexpr uint32_t kMsrExitReasonUnknown = 1 << 1;  // KVM_MSR_EXIT_REASON_UNKNOWN
inline constexpr uint32_t kMsrExitReasonFilter = 1 << 2;   // KVM_MSR_EXIT_REASON_FILTER
inline constexpr size_t kMsrFilterMaxRanges = 16;          // KVM_MSR_FILTER_MAX_RANGES
inline constexpr size_t kMsrFilterMaxBitmapBytes = 0x600;  // KVM_MSR_FILTER_MAX_BITMAP_SIZE
// The most MSRs one range can hold: the kernel sizes a bitmap as
// BITS_TO_LONGS(nmsrs) * sizeof(long) bytes, at most 0x600.
inline constexpr uint32_t kMsrFilterMaxRangeMsrs = kMsrFilterMaxBitmapBytes * 8;  // 12,288

struct MsrFilterRange {
  // kMsrFilterRead | kMsrFilterWrite: the accesses this range matches.
  uint32_t flags = 0;
  // MSRs [base, base + nmsrs), as the kernel computes it in 32 bits.
  uint32_t base = 0;
  uint32_t nmsrs = 0;
  // Bit = 1 allows. KVM's layout: MSR base + i is bit (i % 8) of byte i / 8.
  // The kernel copies MsrFilterBitmapBytes(nmsrs) bytes; CompileMsrPolicy
  // sizes every bitmap exactly so, with the unused tail bits 0, so the kvm
  // backend can pass bitmap.data() as is.
  std::vector<uint8_t> bitmap;

  // Whether the bit for `index` (which must lie in the range) allows.
  bool Allows(uint32_t index) const;
};

struct MsrFilter {
  // KVM_MSR_FILTER_DEFAULT_DENY: what no range matches is denied.
  bool default_deny = false;
  // In KVM's order: the first range matching an access decides.
  std::vector<MsrFilterRange> ranges;
  // The KVM_MSR_EXIT_REASON_* mask for KVM_CAP_X86_USER_SPACE_MSR. FILTER
  // must be enabled before the filter is installed, or denied accesses #GP
  // in the kernel instead of exiting.
  uint32_t exit_reasons = 0;
};

// Bytes the kernel copies for a range of `nmsrs` MSRs:
// BITS_TO_LONGS(nmsrs) * sizeof(long) on x86-64.
size_t MsrFilterBitmapBytes(uint32_t nmsrs);

// The kernel's kvm_msr_allowed() for an installed `filter`:
//  - x2APIC MSRs 0x800-0x8ff are always allowed, whatever the filter says;
//  - a filter whose ranges are all empty (nmsrs == 0) filters nothing: KVM
//    skips empty ranges, allows with DEFAULT_ALLOW and refuses DEFAULT_DENY
//    with EINVAL (the previous filter, or none, stays), so either way
//    everything is allowed;
//  - otherwise the first non-empty range whose flags match the access and
//    whose [base, base + nmsrs) holds `index` decides by its bit; the end is
//    computed in 32 bits as the kernel does, so a range that wraps past
//    0xffffffff matches nothing;
//  - no range matching: allowed unless default_deny.
bool KvmAllows(const MsrFilter& filter, uint32_t index, bool write);

// What KVM_X86_SET_MSR_FILTER would refuse with EINVAL, as INVALID_ARGUMENT
// naming the range: more than 16 ranges, range flags other than READ|WRITE
// or none on a non-empty range, a bitmap over 0x600 bytes or shorter than
// MsrFilterBitmapBytes(nmsrs), DEFAULT_DENY with all ranges empty; and
// exit_reasons with undefined bits (KVM_ENABLE_CAP refuses those).
absl::Status ValidateMsrFilter(const MsrFilter& filter);

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_FILTER_H_

#include "backend/hypervisor/kvm/kvm_vcpu_state.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_uapi.h"

namespace vmd::hv::kvm {
namespace {

constexpr uint32_t kMsrTscDeadline = 0x6e0;
constexpr int kMaxMsrIndexes = 4096;

Segment FromKvm(const kvm_segment& s) {
  return {.base = s.base,
          .limit = s.limit,
          .selector = s.selector,
          .type = s.type,
          .dpl = s.dpl,
          .present = s.present != 0,
          .s = s.s != 0,
          .db = s.db != 0,
          .l = s.l != 0,
          .g = s.g != 0,
          .avl = s.avl != 0,
          .unusable = s.unusable != 0};
}

kvm_segment ToKvm(const Segment& s) {
  kvm_segment k{};
  k.base = s.base;
  k.limit = s.limit;
  k.selector = s.selector;
  k.type = s.type;
  k.dpl = s.dpl;
  k.present = s.present;
  k.s = s.s;
  k.db = s.db;
  k.l = s.l;
  k.g = s.g;
  k.avl = s.avl;
  k.unusable = s.unusable;
  return k;
}

// A kvm_msrs in the kernel's layout (kvm_uapi.h): header, then entries.
class MsrsBuffer {
 public:
  explicit MsrsBuffer(size_t n) : words_((sizeof(MsrsHeader) + n * sizeof(kvm_msr_entry)) / sizeof(uint64_t), 0) {
    header()->nmsrs = static_cast<uint32_t>(n);
  }
  MsrsHeader* header() { return reinterpret_cast<MsrsHeader*>(words_.data()); }
  kvm_msr_entry* entries() { return reinterpret_cast<kvm_msr_entry*>(header() + 1); }

 private:
  std::vector<uint64_t> words_;
};
static_assert(sizeof(kvm_msr_entry) % sizeof(uint64_t) == 0);

// How many of `indexes` KVM_GET_MSRS read (it stops at the first refusal).
absl::StatusOr<size_t> GetMsrsPrefix(int vcpu_fd, std::span<const uint32_t> indexes, std::vector<MsrValue>* out) {
  MsrsBuffer buffer(indexes.size());
  for (size_t i = 0; i < indexes.size(); ++i) buffer.entries()[i].index = indexes[i];
  absl::StatusOr<int> n = Ioctl(vcpu_fd, kKvmGetMsrs, "KVM_GET_MSRS", buffer.header());
  if (!n.ok()) return n.status();
  for (int i = 0; i < *n; ++i) out->push_back({buffer.entries()[i].index, buffer.entries()[i].data});
  return static_cast<size_t>(*n);
}

template <typename T>
absl::Status Get(int fd, unsigned long request, const char* name, T* value) {
  return Ioctl(fd, request, name, static_cast<void*>(value)).status();
}
template <typename T>
absl::Status Set(int fd, unsigned long request, const char* name, const T& value) {
  return Ioctl(fd, request, name, static_cast<const void*>(&value)).status();
}

VcpuEvents FromKvm(const kvm_vcpu_events& e) {
  VcpuEvents v;
  v.exception = {.injected = e.exception.injected != 0,
                 .pending = e.exception.pending != 0,
                 .vector = e.exception.nr,
                 .has_error_code = e.exception.has_error_code != 0,
                 .error_code = e.exception.error_code,
                 .has_payload = e.exception_has_payload != 0,
                 .payload = e.exception_payload};
  v.interrupt = {.injected = e.interrupt.injected != 0,
                 .vector = e.interrupt.nr,
                 .soft = e.interrupt.soft != 0,
                 .shadow = e.interrupt.shadow};
  v.nmi = {.injected = e.nmi.injected != 0, .pending = e.nmi.pending != 0, .masked = e.nmi.masked != 0};
  v.sipi_vector = e.sipi_vector;
  v.smi_pending = e.smi.pending != 0;
  v.in_smm = e.smi.smm != 0;
  v.triple_fault_pending = (e.flags & KVM_VCPUEVENT_VALID_TRIPLE_FAULT) != 0 && e.triple_fault.pending != 0;
  return v;
}

kvm_vcpu_events ToKvm(const VcpuEvents& v) {
  kvm_vcpu_events e{};
  e.exception.injected = v.exception.injected;
  e.exception.pending = v.exception.pending;
  e.exception.nr = v.exception.vector;
  e.exception.has_error_code = v.exception.has_error_code;
  e.exception.error_code = v.exception.error_code;
  e.interrupt.injected = v.interrupt.injected;
  e.interrupt.nr = v.interrupt.vector;
  e.interrupt.soft = v.interrupt.soft;
  e.interrupt.shadow = v.interrupt.shadow;
  e.nmi.injected = v.nmi.injected;
  e.nmi.pending = v.nmi.pending;
  e.nmi.masked = v.nmi.masked;
  e.sipi_vector = v.sipi_vector;
  e.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW;
  // The optional parts only when they hold something: each needs a
  // capability the VM may not have enabled (SMM, triple-fault events,
  // exception payloads), and KVM refuses a flag it does not support.
  if (v.smi_pending || v.in_smm) {
    e.flags |= KVM_VCPUEVENT_VALID_SMM;
    e.smi.pending = v.smi_pending;
    e.smi.smm = v.in_smm;
  }
  if (v.triple_fault_pending) {
    e.flags |= KVM_VCPUEVENT_VALID_TRIPLE_FAULT;
    e.triple_fault.pending = 1;
  }
  if (v.exception.has_payload) {
    e.flags |= KVM_VCPUEVENT_VALID_PAYLOAD;
    e.exception_has_payload = 1;
    e.exception_payload = v.exception.payload;
  }
  return e;
}

}  // namespace

Registers FromKvm(const kvm_regs& r) {
  return {.rax = r.rax, .rbx = r.rbx, .rcx = r.rcx, .rdx = r.rdx, .rsi = r.rsi, .rdi = r.rdi,
          .rsp = r.rsp, .rbp = r.rbp, .r8 = r.r8, .r9 = r.r9, .r10 = r.r10, .r11 = r.r11,
          .r12 = r.r12, .r13 = r.r13, .r14 = r.r14, .r15 = r.r15, .rip = r.rip, .rflags = r.rflags};
}

kvm_regs ToKvm(const Registers& r) {
  kvm_regs k{};
  k.rax = r.rax, k.rbx = r.rbx, k.rcx = r.rcx, k.rdx = r.rdx, k.rsi = r.rsi, k.rdi = r.rdi;
  k.rsp = r.rsp, k.rbp = r.rbp, k.r8 = r.r8, k.r9 = r.r9, k.r10 = r.r10, k.r11 = r.r11;
  k.r12 = r.r12, k.r13 = r.r13, k.r14 = r.r14, k.r15 = r.r15, k.rip = r.rip, k.rflags = r.rflags;
  return k;
}

SpecialRegisters FromKvm(const kvm_sregs& s) {
  SpecialRegisters out;
  out.cs = FromKvm(s.cs), out.ds = FromKvm(s.ds), out.es = FromKvm(s.es), out.fs = FromKvm(s.fs);
  out.gs = FromKvm(s.gs), out.ss = FromKvm(s.ss), out.tr = FromKvm(s.tr), out.ldt = FromKvm(s.ldt);
  out.gdt = {s.gdt.base, s.gdt.limit};
  out.idt = {s.idt.base, s.idt.limit};
  out.cr0 = s.cr0, out.cr2 = s.cr2, out.cr3 = s.cr3, out.cr4 = s.cr4, out.cr8 = s.cr8;
  out.efer = s.efer;
  out.apic_base = s.apic_base;
  std::copy(std::begin(s.interrupt_bitmap), std::end(s.interrupt_bitmap), out.interrupt_bitmap.begin());
  return out;
}

void ToKvm(const SpecialRegisters& from, kvm_sregs& s) {
  s.cs = ToKvm(from.cs), s.ds = ToKvm(from.ds), s.es = ToKvm(from.es), s.fs = ToKvm(from.fs);
  s.gs = ToKvm(from.gs), s.ss = ToKvm(from.ss), s.tr = ToKvm(from.tr), s.ldt = ToKvm(from.ldt);
  s.gdt = {};
  s.gdt.base = from.gdt.base;
  s.gdt.limit = from.gdt.limit;
  s.idt = {};
  s.idt.base = from.idt.base;
  s.idt.limit = from.idt.limit;
  s.cr0 = from.cr0, s.cr2 = from.cr2, s.cr3 = from.cr3, s.cr4 = from.cr4, s.cr8 = from.cr8;
  s.efer = from.efer;
  s.apic_base = from.apic_base;
  std::copy(from.interrupt_bitmap.begin(), from.interrupt_bitmap.end(), std::begin(s.interrupt_bitmap));
}

namespace {
absl::StatusOr<std::vector<uint32_t>> ReadMsrList(int kvm_fd, unsigned long request, const char* name) {
  std::vector<uint32_t> words(1 + kMaxMsrIndexes);
  words[0] = kMaxMsrIndexes;
  if (ioctl(kvm_fd, request, words.data()) != 0) return IoctlError(name, errno);
  return std::vector<uint32_t>(words.begin() + 1, words.begin() + 1 + words[0]);
}
}  // namespace

absl::StatusOr<std::vector<uint32_t>> GetMsrIndexList(int kvm_fd) {
  return ReadMsrList(kvm_fd, kKvmGetMsrIndexList, "KVM_GET_MSR_INDEX_LIST");
}

absl::StatusOr<std::vector<uint32_t>> GetMsrFeatureIndexList(int kvm_fd) {
  return ReadMsrList(kvm_fd, kKvmGetMsrFeatureIndexList, "KVM_GET_MSR_FEATURE_INDEX_LIST");
}

absl::StatusOr<std::vector<uint32_t>> ReadableMsrs(int vcpu_fd, std::span<const uint32_t> candidates) {
  std::vector<uint32_t> readable;
  std::vector<MsrValue> values;
  for (size_t pos = 0; pos < candidates.size();) {
    values.clear();
    absl::StatusOr<size_t> n = GetMsrsPrefix(vcpu_fd, candidates.subspan(pos), &values);
    if (!n.ok()) return n.status();
    for (const MsrValue& v : values) readable.push_back(v.index);
    pos += *n + 1;  // skip the MSR KVM refused
  }
  return readable;
}

absl::StatusOr<std::vector<MsrValue>> GetMsrs(int vcpu_fd, std::span<const uint32_t> indexes) {
  std::vector<MsrValue> values;
  absl::StatusOr<size_t> n = GetMsrsPrefix(vcpu_fd, indexes, &values);
  if (!n.ok()) return n.status();
  if (*n != indexes.size()) {
    return absl::InternalError(absl::StrCat("KVM_GET_MSRS refused MSR 0x", absl::Hex(indexes[*n])));
  }
  return values;
}

absl::Status SetMsrs(int vcpu_fd, std::span<const MsrValue> msrs) {
  MsrsBuffer buffer(msrs.size());
  for (size_t i = 0; i < msrs.size(); ++i) {
    buffer.entries()[i].index = msrs[i].index;
    buffer.entries()[i].data = msrs[i].value;
  }
  absl::StatusOr<int> n = Ioctl(vcpu_fd, kKvmSetMsrs, "KVM_SET_MSRS", buffer.header());
  if (!n.ok()) return n.status();
  if (static_cast<size_t>(*n) != msrs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("KVM_SET_MSRS refused MSR 0x", absl::Hex(msrs[*n].index),
                                                   " = 0x", absl::Hex(msrs[*n].value)));
  }
  return absl::OkStatus();
}

absl::StatusOr<VcpuState> SaveKvmVcpuState(const KvmVcpuStateIo& io) {
  const int fd = io.vcpu_fd;
  VcpuState state;
  kvm_mp_state mp{};
  if (absl::Status s = Get(fd, KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &mp); !s.ok()) return s;
  state.mp_state = static_cast<MpState>(mp.mp_state);
  kvm_regs regs{};
  if (absl::Status s = Get(fd, KVM_GET_REGS, "KVM_GET_REGS", &regs); !s.ok()) return s;
  state.regs = FromKvm(regs);
  kvm_sregs sregs{};
  if (absl::Status s = Get(fd, KVM_GET_SREGS, "KVM_GET_SREGS", &sregs); !s.ok()) return s;
  state.sregs = FromKvm(sregs);

  state.xsave.resize(std::max<size_t>(io.xsave_size, sizeof(XsaveArea)));
  const bool xsave2 = io.xsave_size > sizeof(XsaveArea);
  if (absl::Status s = Ioctl(fd, xsave2 ? kKvmGetXsave2 : kKvmGetXsave, xsave2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE",
                             static_cast<void*>(state.xsave.data()))
                           .status();
      !s.ok()) {
    return s;
  }
  kvm_xcrs xcrs{};
  if (absl::Status s = Get(fd, KVM_GET_XCRS, "KVM_GET_XCRS", &xcrs); !s.ok()) return s;
  for (uint32_t i = 0; i < std::min<uint32_t>(xcrs.nr_xcrs, KVM_MAX_XCRS); ++i) {
    state.xcrs.push_back({xcrs.xcrs[i].xcr, xcrs.xcrs[i].value});
  }
  kvm_debugregs debug{};
  if (absl::Status s = Get(fd, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", &debug); !s.ok()) return s;
  std::copy(std::begin(debug.db), std::end(debug.db), state.debug.db.begin());
  state.debug.dr6 = debug.dr6;
  state.debug.dr7 = debug.dr7;
  kvm_lapic_state lapic{};
  if (absl::Status s = Get(fd, KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic); !s.ok()) return s;
  std::memcpy(state.lapic.registers.data(), lapic.regs, sizeof(lapic.regs));

  absl::StatusOr<std::vector<MsrValue>> msrs = GetMsrs(fd, io.msrs);
  if (!msrs.ok()) return msrs.status();
  state.msrs = *std::move(msrs);

  kvm_vcpu_events events{};
  if (absl::Status s = Get(fd, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &events); !s.ok()) return s;
  state.events = FromKvm(events);

  absl::StatusOr<cpu::CpuidTable> cpuid = GetVcpuCpuid(fd);
  if (!cpuid.ok()) return cpuid.status();
  state.cpuid = *std::move(cpuid);
  absl::StatusOr<int> khz = Ioctl(fd, KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  if (!khz.ok()) return khz.status();
  state.tsc_khz = static_cast<uint64_t>(*khz);
  return state;
}

absl::Status RestoreKvmVcpuState(const KvmVcpuStateIo& io, const VcpuState& state) {
  const int fd = io.vcpu_fd;
  if (!state.sim_model.empty()) {
    return absl::InvalidArgumentError("a sim vCPU's state cannot be restored on kvm");
  }
  if (absl::Status s = SetVcpuCpuid(fd, state.cpuid); !s.ok()) return s;
  absl::StatusOr<int> khz = Ioctl(fd, KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  if (!khz.ok()) return khz.status();
  if (state.tsc_khz != 0 && static_cast<uint64_t>(*khz) != state.tsc_khz) {
    // The guest's TSC must tick as before (KVM scales it with TSC_CONTROL).
    if (absl::Status s = Ioctl(fd, KVM_SET_TSC_KHZ, "KVM_SET_TSC_KHZ", static_cast<unsigned long>(state.tsc_khz))
                             .status();
        !s.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("the saved guest TSC runs at ", state.tsc_khz,
                                                        " kHz, this host's at ", *khz, " kHz: ", s.message()));
    }
  }
  kvm_mp_state mp{};
  mp.mp_state = static_cast<uint32_t>(state.mp_state);
  if (absl::Status s = Set(fd, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", mp); !s.ok()) return s;
  if (absl::Status s = Set(fd, KVM_SET_REGS, "KVM_SET_REGS", ToKvm(state.regs)); !s.ok()) return s;
  kvm_sregs sregs{};
  ToKvm(state.sregs, sregs);
  if (absl::Status s = Set(fd, KVM_SET_SREGS, "KVM_SET_SREGS", sregs); !s.ok()) return s;

  if (state.xsave.size() < sizeof(XsaveArea)) {
    return absl::InvalidArgumentError(absl::StrCat("the saved XSAVE area has ", state.xsave.size(),
                                                   " bytes, fewer than KVM's 4096"));
  }
  if (state.xsave.size() > std::max<size_t>(io.xsave_size, sizeof(XsaveArea))) {
    return absl::FailedPreconditionError(absl::StrCat("the saved XSAVE area has ", state.xsave.size(),
                                                      " bytes; KVM here takes ", io.xsave_size));
  }
  if (absl::Status s = Ioctl(fd, kKvmSetXsave, "KVM_SET_XSAVE", static_cast<const void*>(state.xsave.data())).status();
      !s.ok()) {
    return s;
  }
  kvm_xcrs xcrs{};
  if (state.xcrs.size() > KVM_MAX_XCRS) return absl::InvalidArgumentError("more XCRs than KVM_MAX_XCRS");
  xcrs.nr_xcrs = static_cast<uint32_t>(state.xcrs.size());
  for (size_t i = 0; i < state.xcrs.size(); ++i) {
    xcrs.xcrs[i].xcr = state.xcrs[i].index;
    xcrs.xcrs[i].value = state.xcrs[i].value;
  }
  if (absl::Status s = Set(fd, KVM_SET_XCRS, "KVM_SET_XCRS", xcrs); !s.ok()) return s;
  kvm_debugregs debug{};
  std::copy(state.debug.db.begin(), state.debug.db.end(), std::begin(debug.db));
  debug.dr6 = state.debug.dr6;
  debug.dr7 = state.debug.dr7;
  if (absl::Status s = Set(fd, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", debug); !s.ok()) return s;
  kvm_lapic_state lapic{};
  std::memcpy(lapic.regs, state.lapic.registers.data(), sizeof(lapic.regs));
  if (absl::Status s = Set(fd, KVM_SET_LAPIC, "KVM_SET_LAPIC", lapic); !s.ok()) return s;

  // TSC_DEADLINE is relative to the TSC: write it after the TSC.
  std::vector<MsrValue> msrs = state.msrs;
  std::stable_partition(msrs.begin(), msrs.end(), [](const MsrValue& m) { return m.index != kMsrTscDeadline; });
  if (absl::Status s = SetMsrs(fd, msrs); !s.ok()) return s;
  return Set(fd, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", ToKvm(state.events));
}

}  // namespace vmd::hv::kvm

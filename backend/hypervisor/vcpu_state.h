// A vCPU's architectural state as backend-neutral data (not KVM structs):
// what Vcpu::SaveState returns and Vcpu::RestoreState takes, and what a
// snapshot stores (backend/snapshot converts it to vmd.engine.v1.VcpuState).
// The kvm backend maps each part to its ioctl (kvm_vcpu_state.cc); the sim
// backend fills the parts it models.
#ifndef VMD_BACKEND_HYPERVISOR_VCPU_STATE_H_
#define VMD_BACKEND_HYPERVISOR_VCPU_STATE_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "backend/cpu/cpuid.h"

namespace vmd::hv {

struct Registers {
  uint64_t rax = 0, rbx = 0, rcx = 0, rdx = 0, rsi = 0, rdi = 0, rsp = 0, rbp = 0;
  uint64_t r8 = 0, r9 = 0, r10 = 0, r11 = 0, r12 = 0, r13 = 0, r14 = 0, r15 = 0;
  uint64_t rip = 0, rflags = 0x2;  // bit 1 is always set
  friend bool operator==(const Registers&, const Registers&) = default;
};

// A segment register with its hidden descriptor cache.
struct Segment {
  uint64_t base = 0;
  uint32_t limit = 0;
  uint16_t selector = 0;
  uint8_t type = 0;
  uint8_t dpl = 0;
  bool present = false, s = false, db = false, l = false, g = false, avl = false, unusable = false;
  friend bool operator==(const Segment&, const Segment&) = default;
};

struct DescriptorTable {
  uint64_t base = 0;
  uint16_t limit = 0;
  friend bool operator==(const DescriptorTable&, const DescriptorTable&) = default;
};

struct SpecialRegisters {
  Segment cs, ds, es, fs, gs, ss, tr, ldt;
  DescriptorTable gdt, idt;
  uint64_t cr0 = 0, cr2 = 0, cr3 = 0, cr4 = 0, cr8 = 0;
  uint64_t efer = 0;
  uint64_t apic_base = 0;
  // An external interrupt injected but not yet delivered (one bit set at
  // most), as the kernel keeps it with the special registers.
  std::array<uint64_t, 4> interrupt_bitmap{};
  friend bool operator==(const SpecialRegisters&, const SpecialRegisters&) = default;
};

struct DebugRegisters {
  std::array<uint64_t, 4> db{};
  uint64_t dr6 = 0, dr7 = 0;
  friend bool operator==(const DebugRegisters&, const DebugRegisters&) = default;
};

struct Xcr {
  uint32_t index = 0;
  uint64_t value = 0;
  friend bool operator==(const Xcr&, const Xcr&) = default;
};

struct MsrValue {
  uint32_t index = 0;
  uint64_t value = 0;
  friend bool operator==(const MsrValue&, const MsrValue&) = default;
};

// The local APIC's register page, in the architectural layout (register at
// offset 0x10 * n); in x2APIC mode the ID register holds the 32-bit id.
// LAPIC register offsets both backends and the engine read.
inline constexpr uint32_t kLapicLvtPerfCounter = 0x340;  // LVTPC: where a PMI goes

struct LapicState {
  std::array<uint8_t, 1024> registers{};
  friend bool operator==(const LapicState&, const LapicState&) = default;
};

// Events in flight between instructions: an exception, interrupt or NMI
// being injected or pending, and the interrupt shadow.
struct VcpuEvents {
  struct Exception {
    bool injected = false;
    bool pending = false;
    uint8_t vector = 0;
    bool has_error_code = false;
    uint32_t error_code = 0;
    bool has_payload = false;
    uint64_t payload = 0;  // CR2 of a #PF, DR6 bits of a #DB
    friend bool operator==(const Exception&, const Exception&) = default;
  } exception;
  struct Interrupt {
    bool injected = false;
    uint8_t vector = 0;
    bool soft = false;
    uint8_t shadow = 0;  // STI / MOV SS blocking
    friend bool operator==(const Interrupt&, const Interrupt&) = default;
  } interrupt;
  struct Nmi {
    bool injected = false;
    bool pending = false;
    bool masked = false;
    friend bool operator==(const Nmi&, const Nmi&) = default;
  } nmi;
  uint32_t sipi_vector = 0;
  bool smi_pending = false;
  bool in_smm = false;
  bool triple_fault_pending = false;
  friend bool operator==(const VcpuEvents&, const VcpuEvents&) = default;
};

// The multiprocessor state (KVM_MP_STATE_*, the SDM's wait-for-SIPI etc.).
enum class MpState : uint32_t {
  kRunnable = 0,
  kUninitialized = 1,
  kInitReceived = 2,
  kHalted = 3,
  kSipiReceived = 4,
};

struct VcpuState {
  uint32_t id = 0;
  // What the guest reads with CPUID; set before the registers, since the
  // kernel checks CR4 and EFER against it.
  cpu::CpuidTable cpuid;
  // The guest TSC frequency; restoring onto a different frequency is refused.
  uint64_t tsc_khz = 0;
  MpState mp_state = MpState::kRunnable;
  Registers regs;
  SpecialRegisters sregs;
  // The XSAVE area (standard format: x87, SSE, and every enabled component);
  // the x87/SSE state of the legacy FXSAVE region is its first 512 bytes.
  std::vector<uint8_t> xsave;
  std::vector<Xcr> xcrs;
  DebugRegisters debug;
  LapicState lapic;
  // The MSRs the backend saves: on kvm, every MSR in KVM_GET_MSR_INDEX_LIST
  // this vCPU can read; on sim, every MSR its model holds.
  std::vector<MsrValue> msrs;
  VcpuEvents events;
  // sim only: its model of the firmware, which in a real guest lives in
  // registers and memory the sim does not execute. Empty on kvm.
  std::string sim_model;
};

// How a freshly created vCPU enters the guest (a boot, not a restore).
struct BootEntry {
  Registers regs;
  SpecialRegisters sregs;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_VCPU_STATE_H_

// A VM's state outside its vCPUs and memory, as backend-neutral data: what
// Vm::SaveState returns and Vm::RestoreState takes.
#ifndef VMD_BACKEND_HYPERVISOR_VM_STATE_H_
#define VMD_BACKEND_HYPERVISOR_VM_STATE_H_

#include <array>
#include <cstdint>
#include <map>
#include <optional>

#include "backend/cpu/cpuid.h"
#include "backend/hypervisor/msi.h"
#include "backend/msr/msr_filter.h"

namespace vmd::hv {

// The VM clock (kvmclock's base): nanoseconds, as KVM_GET_CLOCK reports it.
struct ClockState {
  uint64_t ns = 0;
  friend bool operator==(const ClockState&, const ClockState&) = default;
};

// One 8259A of the in-kernel PIC pair.
struct PicState {
  uint8_t last_irr = 0, irr = 0, imr = 0, isr = 0, priority_add = 0, irq_base = 0;
  uint8_t read_reg_select = 0, poll = 0, special_mask = 0, init_state = 0, auto_eoi = 0;
  uint8_t rotate_on_auto_eoi = 0, special_fully_nested_mode = 0, init4 = 0, elcr = 0, elcr_mask = 0;
  friend bool operator==(const PicState&, const PicState&) = default;
};

// The in-kernel IOAPIC: 24 pins.
struct IoapicState {
  uint64_t base_address = 0;
  uint32_t ioregsel = 0;
  uint32_t id = 0;
  uint32_t irr = 0;
  std::array<uint64_t, 24> redirection{};
  friend bool operator==(const IoapicState&, const IoapicState&) = default;
};

struct IrqchipState {
  PicState pic_master, pic_slave;
  IoapicState ioapic;
  friend bool operator==(const IrqchipState&, const IrqchipState&) = default;
};

struct VmState {
  ClockState clock;
  // Absent on a backend that models no irqchip (sim).
  std::optional<IrqchipState> irqchip;
  // The MSI routes in use, by GSI (the irqchip's default routes are implied).
  std::map<uint32_t, MsiMessage> msi_routes;
  // The MSR filter in force, with its exit reasons (unset: none installed).
  std::optional<msr::MsrFilter> msr_filter;
  // The CPU model vCPUs are built from (before per-vCPU topology); each
  // vCPU's own table is in its VcpuState.
  cpu::CpuidTable base_cpuid;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_VM_STATE_H_

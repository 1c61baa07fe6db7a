// Human-readable vCPU register dumps for crash reports.
#ifndef VMD_BACKEND_HYPERVISOR_REGISTER_DUMP_H_
#define VMD_BACKEND_HYPERVISOR_REGISTER_DUMP_H_

#include <string>

#include "backend/hypervisor/vcpu_state.h"

namespace vmd::hv {

// A multi-line dump: GPRs, RIP, RFLAGS, CR0/2/3/4/8, EFER, APIC base,
// segment selectors (with base/limit/attributes), GDT and IDT.
std::string FormatRegisters(const Registers& regs, const SpecialRegisters& sregs);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_REGISTER_DUMP_H_

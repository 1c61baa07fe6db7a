// Human-readable vCPU register dumps for crash reports.
#ifndef VMD_BACKEND_HYPERVISOR_KVM_KVM_REGISTERS_H_
#define VMD_BACKEND_HYPERVISOR_KVM_KVM_REGISTERS_H_

#include <linux/kvm.h>

#include <string>

namespace vmd::hv::kvm {

// A multi-line dump: GPRs, RIP, RFLAGS, CR0/2/3/4/8, EFER, APIC base,
// segment selectors (with base/limit/attributes), GDT and IDT.
std::string FormatRegisters(const kvm_regs& regs, const kvm_sregs& sregs);

}  // namespace vmd::hv::kvm

#endif  // VMD_BACKEND_HYPERVISOR_KVM_KVM_REGISTERS_H_

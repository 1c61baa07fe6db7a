// Local APIC setup: x2APIC mode (IA32_APIC_BASE.EXTD|EN), software-enabled
// through the spurious-interrupt vector register, TPR 0. The LVT entries stay
// masked as after reset; interrupts come as MSIs.
#include <stdint.h>

#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/firmware.h"

#define CPUID_1_ECX_X2APIC (1u << 21)
#define SVR_APIC_ENABLE (1u << 8)

int apic_init(uint32_t id) {
  if ((cpuid(1, 0).ecx & CPUID_1_ECX_X2APIC) == 0) return 0;
  uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
  // xAPIC -> x2APIC is a legal transition (EN stays set, EXTD gets set).
  wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
  wrmsr(MSR_X2APIC_SVR, SVR_APIC_ENABLE | VECTOR_SPURIOUS);
  wrmsr(MSR_X2APIC_TPR, 0);

  uint32_t x2apic_id = (uint32_t)rdmsr(MSR_X2APIC_ID);
  uint32_t initial_apic_id = cpuid(1, 0).ebx >> 24;
  int ok = x2apic_id == id && initial_apic_id == (id & 0xff);
  if (cpuid(0, 0).eax >= 0xb) ok = ok && cpuid(0xb, 0).edx == id;
  return ok;
}

// Inline wrappers for the x86 instructions the firmware uses.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_CPU_H_
#define VMD_BACKEND_GUEST_FIRMWARE_CPU_H_

#include <stdint.h>

#define MSR_IA32_APIC_BASE 0x1b
#define MSR_IA32_GS_BASE 0xc0000101
#define MSR_X2APIC_ID 0x802
#define MSR_X2APIC_TPR 0x808
#define MSR_X2APIC_EOI 0x80b
#define MSR_X2APIC_SVR 0x80f

#define APIC_BASE_EXTD (1ull << 10)  // x2APIC mode
#define APIC_BASE_EN (1ull << 11)

static inline void outb(uint16_t port, uint8_t value) {
  __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t value) {
  __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port) {
  uint8_t value;
  __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
  return value;
}

static inline uint64_t rdmsr(uint32_t index) {
  uint32_t lo, hi;
  __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(index) : "memory");
  return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t index, uint64_t value) {
  __asm__ volatile("wrmsr"
                   :
                   : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
}

static inline uint64_t rdtsc(void) {
  uint32_t lo, hi;
  __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
  return ((uint64_t)hi << 32) | lo;
}

struct cpuid_regs {
  uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf) {
  struct cpuid_regs r;
  __asm__ volatile("cpuid"
                   : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
                   : "a"(leaf), "c"(subleaf));
  return r;
}

static inline uint64_t read_cr2(void) {
  uint64_t value;
  __asm__ volatile("mov %%cr2, %0" : "=r"(value));
  return value;
}

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }

// Enables interrupts and halts in one step: STI's interrupt shadow covers the
// HLT, so an interrupt that is already pending wakes the HLT instead of being
// taken before it (the race-free idle idiom).
static inline void irq_enable_and_halt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }

// Lets pending interrupts in for one instruction: STI's one-instruction shadow
// means `sti; cli` would take none, so a NOP sits in between.
static inline void irq_window(void) { __asm__ volatile("sti; nop; cli" ::: "memory"); }

#endif  // VMD_BACKEND_GUEST_FIRMWARE_CPU_H_

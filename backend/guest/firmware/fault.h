// Exception fix-ups: an instruction that may fault is listed in the
// .vmd_extable section together with the address to resume at. The trap
// handler records the fault in the vCPU's percpu block and resumes there, so
// a probe op that #GPs (say a RDMSR of an MSR the guest may not read) reports
// the fault and the program goes on with its next op. Same idea as Linux's
// exception tables.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_FAULT_H_
#define VMD_BACKEND_GUEST_FIRMWARE_FAULT_H_

#include <stdint.h>

#include "backend/guest/firmware/percpu.h"

struct extable_entry {
  uint64_t fault_rip;
  uint64_t fixup_rip;
};

// Emits an extable entry from inline assembly: `fault` and `fixup` are labels.
#define EXTABLE_ENTRY(fault, fixup)         \
  ".pushsection .vmd_extable, \"a\"\n\t"    \
  ".balign 8\n\t"                           \
  ".quad " #fault ", " #fixup "\n\t"        \
  ".popsection\n\t"

// The fix-up address for a faulting RIP, or 0 when the RIP is not listed.
uint64_t extable_fixup(uint64_t rip);

static inline void fault_arm(void) { this_cpu()->fault_vector = FAULT_NONE; }
static inline uint32_t fault_vector(void) { return this_cpu()->fault_vector; }

// Each returns FAULT_NONE, or the vector of the exception the op raised.
static inline uint32_t safe_rdmsr(uint32_t index, uint64_t* value) {
  uint32_t lo = 0, hi = 0;
  fault_arm();
  __asm__ volatile("1: rdmsr\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                   : "+a"(lo), "+d"(hi)
                   : "c"(index)
                   : "memory");
  *value = ((uint64_t)hi << 32) | lo;
  return fault_vector();
}

static inline uint32_t safe_wrmsr(uint32_t index, uint64_t value) {
  fault_arm();
  __asm__ volatile("1: wrmsr\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                   :
                   : "c"(index), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
  return fault_vector();
}

static inline uint32_t safe_write_cr4(uint64_t value) {
  fault_arm();
  __asm__ volatile("1: mov %0, %%cr4\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : : "r"(value) : "memory");
  return fault_vector();
}

static inline uint32_t safe_xsetbv(uint32_t xcr, uint64_t value) {
  fault_arm();
  __asm__ volatile("1: xsetbv\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                   :
                   : "c"(xcr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32))
                   : "memory");
  return fault_vector();
}

static inline uint32_t safe_read64(uint64_t address, uint64_t* value) {
  uint64_t v = 0;
  fault_arm();
  __asm__ volatile("1: movq (%1), %0\n2:\n\t" EXTABLE_ENTRY(1b, 2b)
                   : "+r"(v)
                   : "r"(address)
                   : "memory");
  *value = v;
  return fault_vector();
}

// Memory accesses of 1, 2, 4 or 8 bytes at a guest address; any other size
// is reported as #UD (vector 6), like an instruction that does not exist.
#define SAFE_ACCESS_SIZE_INVALID 6u

static inline uint32_t safe_read(uint64_t address, uint32_t size, uint64_t* value) {
  uint64_t v = 0;
  fault_arm();
  switch (size) {
    case 1:
      __asm__ volatile("1: movzbq (%1), %0\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : "+r"(v) : "r"(address) : "memory");
      break;
    case 2:
      __asm__ volatile("1: movzwq (%1), %0\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : "+r"(v) : "r"(address) : "memory");
      break;
    case 4:
      __asm__ volatile("1: movl (%1), %k0\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : "+r"(v) : "r"(address) : "memory");
      break;
    case 8:
      __asm__ volatile("1: movq (%1), %0\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : "+r"(v) : "r"(address) : "memory");
      break;
    default:
      return SAFE_ACCESS_SIZE_INVALID;
  }
  *value = v;
  return fault_vector();
}

static inline uint32_t safe_write(uint64_t address, uint32_t size, uint64_t value) {
  fault_arm();
  switch (size) {
    case 1:
      __asm__ volatile("1: movb %b1, (%0)\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : : "r"(address), "q"(value) : "memory");
      break;
    case 2:
      __asm__ volatile("1: movw %w1, (%0)\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : : "r"(address), "r"(value) : "memory");
      break;
    case 4:
      __asm__ volatile("1: movl %k1, (%0)\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : : "r"(address), "r"(value) : "memory");
      break;
    case 8:
      __asm__ volatile("1: movq %1, (%0)\n2:\n\t" EXTABLE_ENTRY(1b, 2b) : : "r"(address), "r"(value) : "memory");
      break;
    default:
      return SAFE_ACCESS_SIZE_INVALID;
  }
  return fault_vector();
}

static inline uint32_t safe_ud2(void) {
  fault_arm();
  __asm__ volatile("1: ud2\n2:\n\t" EXTABLE_ENTRY(1b, 2b) ::: "memory");
  return fault_vector();
}

#endif  // VMD_BACKEND_GUEST_FIRMWARE_FAULT_H_

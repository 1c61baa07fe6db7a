// Per-vCPU firmware state. It sits at the bottom of the vCPU's stack region
// (VMD_STACKS_GPA + id * VMD_STACK_BYTES; the stack grows down from the top of
// the region) and GS.base points at it, so handlers find it without locks.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_PERCPU_H_
#define VMD_BACKEND_GUEST_FIRMWARE_PERCPU_H_

#include <stdint.h>

#define FAULT_NONE 0xffffffffu

struct percpu {
  struct percpu* self;  // at offset 0: this_cpu() reads %gs:0
  uint32_t id;          // vCPU id = x2APIC id (RDI at entry)
  uint32_t in_fatal;    // a fatal exception is being reported
  // The last exception fixed up on this vCPU (see fault.h). A protected op
  // sets fault_vector to FAULT_NONE before it runs and reads it after.
  volatile uint32_t fault_vector;
  uint32_t pad;
  volatile uint64_t fault_error_code;
  volatile uint64_t fault_rip;
  // Interrupts this vCPU took, by vector (probe WAIT_INTERRUPT counts these).
  volatile uint64_t interrupts[256];
};

// Points GS.base at this vCPU's block and fills it in.
void percpu_init(uint32_t id);

static inline struct percpu* this_cpu(void) {
  struct percpu* cpu;
  __asm__ volatile("mov %%gs:0, %0" : "=r"(cpu));
  return cpu;
}

#endif  // VMD_BACKEND_GUEST_FIRMWARE_PERCPU_H_

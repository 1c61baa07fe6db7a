// Exception and interrupt handling. Exceptions are recorded in the diag page;
// a fault at an instruction listed in the extable (fault.h) is recorded in the
// vCPU's percpu block and resumed at its fix-up; any other fault is fatal: the
// firmware prints what happened and triple-faults, which the engine sees as a
// crash (KVM_EXIT_SHUTDOWN) with the registers. Interrupts are counted by
// vector and acknowledged with an x2APIC EOI.
#include <stdint.h>

#include "backend/guest/firmware/console.h"
#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/fault.h"
#include "backend/guest/firmware/firmware.h"
#include "backend/guest/firmware/percpu.h"

// The stack layout isr_common builds (isr.S).
struct trap_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

volatile uint32_t shutdown_requested;

extern const struct extable_entry __start_vmd_extable[];
extern const struct extable_entry __stop_vmd_extable[];

uint64_t extable_fixup(uint64_t rip) {
  for (const struct extable_entry* e = __start_vmd_extable; e < __stop_vmd_extable; e++) {
    if (e->fault_rip == rip) return e->fixup_rip;
  }
  return 0;
}

__attribute__((noreturn)) static void triple_fault(void) {
  // With an empty IDT the #UD cannot be delivered: #GP, then #DF, then
  // shutdown. (A fault, not INT3: KVM may emulate the injection of a software
  // interrupt, and its emulator reports a failure instead of shutting down.)
  struct {
    uint16_t limit;
    uint64_t base;
  } __attribute__((packed)) empty = {0, 0};
  __asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
  for (;;) __asm__ volatile("hlt");
}

__attribute__((noreturn)) static void fatal_exception(const struct trap_frame* frame) {
  struct percpu* cpu = this_cpu();
  if (cpu->in_fatal) triple_fault();  // faulted while reporting
  cpu->in_fatal = 1;
  struct line line;
  line_start(&line);
  line_str(&line, "vmd firmware: fatal exception ");
  line_u64(&line, frame->vector);
  line_str(&line, " error=");
  line_hex(&line, frame->error_code);
  line_str(&line, " rip=");
  line_hex(&line, frame->rip);
  line_str(&line, " cr2=");
  line_hex(&line, read_cr2());
  line_str(&line, " on vcpu ");
  line_u64(&line, cpu->id);
  line_str(&line, "\n");
  console_line_unlocked(&line);
  triple_fault();
}

static void handle_exception(struct trap_frame* frame) {
  volatile struct vmd_guest_diag* diag = GUEST_DIAG;
  struct percpu* cpu = this_cpu();
  __atomic_add_fetch(&diag->exceptions, 1, __ATOMIC_RELAXED);
  diag->last_vector = (uint32_t)frame->vector;
  diag->last_vcpu = cpu->id;
  diag->last_error_code = frame->error_code;
  diag->last_rip = frame->rip;

  uint64_t fixup = extable_fixup(frame->rip);
  if (fixup != 0) {
    cpu->fault_error_code = frame->error_code;
    cpu->fault_rip = frame->rip;
    cpu->fault_vector = (uint32_t)frame->vector;
    frame->rip = fixup;
    return;
  }
  // #DB and #BP are traps: RIP is already past the instruction.
  if (frame->vector == 1 || frame->vector == 3) return;
  fatal_exception(frame);
}

static void handle_interrupt(const struct trap_frame* frame) {
  uint32_t vector = (uint32_t)frame->vector;
  __atomic_add_fetch(&GUEST_DIAG->interrupts[vector], 1, __ATOMIC_RELAXED);
  this_cpu()->interrupts[vector]++;  // only this vCPU writes its own counts
  if (vector == VMD_VECTOR_SHUTDOWN) {
    __atomic_store_n(&shutdown_requested, 1u, __ATOMIC_RELEASE);
  }
  // NMIs and spurious interrupts are not in service: no EOI for them.
  if (vector != VECTOR_NMI && vector != VECTOR_SPURIOUS) wrmsr(MSR_X2APIC_EOI, 0);
}

void vmd_trap(struct trap_frame* frame);
void vmd_trap(struct trap_frame* frame) {
  // First, so that the MSI bench's sample ends as the handler starts.
  if (frame->vector == VMD_VECTOR_BENCH) {
    bench_irq_tsc = (uint32_t)rdtsc();
    __atomic_add_fetch(&bench_irq_count, 1, __ATOMIC_RELEASE);
  }
  if (frame->vector >= 32 || frame->vector == VECTOR_NMI) {
    handle_interrupt(frame);
  } else {
    handle_exception(frame);
  }
}

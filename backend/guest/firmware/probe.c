// The probe workload (VMD_WORKLOAD_PROBE, guest_abi.h): vCPU 0 sleeps until
// the engine rings the VMD_VECTOR_PROBE doorbell, then runs the program in
// the mailbox op by op with interrupts enabled. Each op records its result,
// or the exception it raised: every op that can fault runs through the
// exception table (fault.h), so the fault is fixed up and the next op runs.
// At the end it publishes done_sequence and reports it on
// VMD_PORT_PROBE_DONE. The sim backend's guest model (sim_guest.cc) has the
// same semantics.
#include <stdint.h>

#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/fault.h"
#include "backend/guest/firmware/firmware.h"
#include "backend/guest/firmware/percpu.h"

#define VECTOR_UD 6

// Per-vector interrupt counts at the start of the program or at the last
// WAIT_INTERRUPT of that vector (only vCPU 0 runs programs).
static uint64_t wait_base[256];

static void record_fault(volatile struct vmd_probe_op* op, uint32_t vector) {
  op->vector = vector;
  op->status = VMD_PROBE_FAULT;
}

// Waits, interrupts on, until this vCPU has taken `vector` since its base or
// `timeout_us` passed; a shutdown request ends the program.
static void wait_interrupt(volatile struct vmd_probe_op* op, uint64_t tsc_khz) {
  const uint32_t vector = op->index & 0xff;
  volatile uint64_t* count = &this_cpu()->interrupts[vector];
  const uint64_t deadline = rdtsc() + (uint64_t)op->subleaf * tsc_khz / 1000;
  irq_enable();
  while (*count == wait_base[vector] && rdtsc() < deadline) {
    power_off_if_requested();
    cpu_relax();
  }
  irq_disable();
  uint64_t taken = *count - wait_base[vector];
  if (taken == 0) {
    op->status = VMD_PROBE_TIMEOUT;
    return;
  }
  wait_base[vector] = *count;
  op->out[0] = taken;
  op->status = VMD_PROBE_OK;
}

static void execute(volatile struct vmd_probe_op* op, uint64_t tsc_khz) {
  uint64_t value = 0;
  uint32_t fault;
  switch (op->kind) {
    case VMD_PROBE_RDMSR:
      fault = safe_rdmsr(op->index, &value);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      op->out[0] = value;
      break;
    case VMD_PROBE_WRMSR:
      fault = safe_wrmsr(op->index, op->arg);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      break;
    case VMD_PROBE_CPUID: {
      struct cpuid_regs r = cpuid(op->index, op->subleaf);
      op->out[0] = r.eax;
      op->out[1] = r.ebx;
      op->out[2] = r.ecx;
      op->out[3] = r.edx;
      break;
    }
    case VMD_PROBE_RDTSC:
      op->out[0] = rdtsc();
      break;
    case VMD_PROBE_WAIT_INTERRUPT:
      return wait_interrupt(op, tsc_khz);
    case VMD_PROBE_READ_MEM:
      fault = safe_read(op->arg, op->index, &value);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      op->out[0] = value;
      break;
    case VMD_PROBE_WRITE_MEM:
      fault = safe_write(op->arg, op->index, op->arg2);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      break;
    case VMD_PROBE_SPIN: {
      const uint64_t iterations = op->arg;
      const uint64_t start = rdtsc();
      for (uint64_t i = 0; i < iterations; i++) __asm__ volatile("" ::: "memory");
      op->out[0] = rdtsc() - start;
      break;
    }
    case VMD_PROBE_WRITE_CR4: {
      fault = safe_write_cr4(op->arg);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      uint64_t cr4;
      __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
      op->out[0] = cr4;
      break;
    }
    case VMD_PROBE_XSETBV:
      fault = safe_xsetbv(op->index, op->arg);
      if (fault != FAULT_NONE) return record_fault(op, fault);
      break;
    case VMD_PROBE_BENCH_PIO:
    case VMD_PROBE_BENCH_RDMSR:
    case VMD_PROBE_BENCH_CPUID:
    case VMD_PROBE_BENCH_MSI:
    case VMD_PROBE_BENCH_IPI:
    case VMD_PROBE_BENCH_TIMER:
      return bench_run(op, tsc_khz);  // sets its own status
    default:
      return record_fault(op, VECTOR_UD);  // an op the firmware does not know
  }
  op->status = VMD_PROBE_OK;
}

static void run_program(uint32_t sequence, uint64_t tsc_khz) {
  volatile struct vmd_probe_mailbox* mailbox = PROBE_MAILBOX;
  volatile uint64_t* counts = this_cpu()->interrupts;
  for (int v = 0; v < 256; v++) wait_base[v] = counts[v];
  uint32_t nops = mailbox->nops;
  if (nops > VMD_PROBE_MAX_OPS) nops = VMD_PROBE_MAX_OPS;
  for (uint32_t i = 0; i < nops; i++) {
    // Ops run with interrupts off; pending ones are taken between ops, as
    // the sim takes them (and during WAIT_INTERRUPT).
    irq_window();
    power_off_if_requested();
    execute(&mailbox->ops[i], tsc_khz);
  }
  __atomic_store_n(&mailbox->done_sequence, sequence, __ATOMIC_RELEASE);
  outl(VMD_PORT_PROBE_DONE, sequence);
}

void workload_probe(uint64_t tsc_khz) {
  volatile struct vmd_probe_mailbox* mailbox = PROBE_MAILBOX;
  for (;;) {
    irq_disable();
    power_off_if_requested();
    uint32_t sequence = __atomic_load_n(&mailbox->sequence, __ATOMIC_ACQUIRE);
    if (mailbox->magic == VMD_PROBE_MAGIC && sequence != mailbox->done_sequence) {
      run_program(sequence, tsc_khz);
      continue;
    }
    // The doorbell (or any interrupt) wakes the HLT.
    irq_enable_and_halt();
  }
}

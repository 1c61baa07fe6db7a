// Guest micro-benchmarks: the VMD_PROBE_BENCH_* ops (guest_abi.h), after
// kvm-unit-tests' micro-bench. Each loop times one round trip per iteration
// with the same window the engine's raw-KVM floor VM uses,
//     rdtsc; mov %eax,%r8d; <round trip>; rdtsc
// and stores the low 32 bits of the difference. Where KVM emulates guest
// instructions each one in the window would add to every sample, so the
// window holds nothing else: the sample is stored, the fault and the budget
// checked outside it. Ops run with interrupts off (but for a short window
// every few thousand round trips), except the MSI loop, which needs them on
// to take the bench interrupt.
#include <stdint.h>

#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/fault.h"
#include "backend/guest/firmware/firmware.h"
#include "backend/guest/firmware/percpu.h"

volatile uint32_t bench_irq_tsc;
volatile uint64_t bench_irq_count;

// What one loop did: samples written, and what ended it early, if anything.
struct bench_result {
  uint64_t samples;
  uint32_t status;  // VMD_PROBE_OK, _FAULT or _TIMEOUT
  uint32_t vector;
};

static inline uint64_t tsc_of(uint32_t lo, uint32_t hi) { return ((uint64_t)hi << 32) | lo; }

// Every 4096 round trips (outside the timed window) the loops let pending
// interrupts in, so that a shutdown request ends a long run instead of
// waiting out its budget. With an exit while IF=1: this host's KVM does not
// open an interrupt window for `sti; nop; cli` (irq_window()), it injects
// only when it enters the guest with interrupts on.
#define BENCH_IRQ_WINDOW_MASK 4095u

static inline int shutdown_pending(void) {
  return __atomic_load_n(&shutdown_requested, __ATOMIC_ACQUIRE) != 0;
}

// Whether a shutdown request ends the loop (then recorded in `r`).
static inline int bench_interrupted(struct bench_result* r) {
  if ((r->samples & BENCH_IRQ_WINDOW_MASK) != 0) return 0;
  irq_enable();
  outb(VMD_PORT_BENCH_PIO, 0);
  irq_disable();
  if (!shutdown_pending()) return 0;
  r->status = VMD_PROBE_TIMEOUT;
  r->vector = VMD_VECTOR_SHUTDOWN;
  return 1;
}

static struct bench_result bench_pio(uint32_t* samples, uint64_t iterations, uint64_t deadline) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  while (r.samples < iterations) {
    register uint32_t start __asm__("r8");
    uint32_t lo, hi;
    __asm__ volatile(
        "rdtsc\n\t"
        "mov %%eax, %k2\n\t"
        "outb %%al, %3\n\t"
        "rdtsc"
        : "=a"(lo), "=d"(hi), "=r"(start)
        : "i"(VMD_PORT_BENCH_PIO)
        : "memory");
    samples[r.samples++] = lo - start;
    if (tsc_of(lo, hi) >= deadline || bench_interrupted(&r)) break;
  }
  return r;
}

static struct bench_result bench_rdmsr(uint32_t* samples, uint64_t iterations, uint64_t deadline,
                                       uint32_t index) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  // Armed once: the first fault ends the loop. (The percpu pointer is read
  // once too; %gs-relative loads are slow where KVM emulates them.)
  volatile uint32_t* const fault = &this_cpu()->fault_vector;
  fault_arm();
  while (r.samples < iterations) {
    register uint32_t start __asm__("r8");
    uint32_t lo, hi;
    // A #GP at the RDMSR is fixed up to the closing RDTSC.
    __asm__ volatile(
        "rdtsc\n\t"
        "mov %%eax, %k2\n"
        "1: rdmsr\n"
        "2: rdtsc\n\t" EXTABLE_ENTRY(1b, 2b)
        : "=a"(lo), "=d"(hi), "=r"(start)
        : "c"(index)
        : "memory");
    if (*fault != FAULT_NONE) {
      r.status = VMD_PROBE_FAULT;
      r.vector = *fault;
      break;
    }
    samples[r.samples++] = lo - start;
    if (tsc_of(lo, hi) >= deadline || bench_interrupted(&r)) break;
  }
  return r;
}

static struct bench_result bench_cpuid(uint32_t* samples, uint64_t iterations, uint64_t deadline,
                                       uint32_t leaf) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  while (r.samples < iterations) {
    register uint32_t start __asm__("r8");
    uint32_t lo, hi, ebx, ecx = 0;
    __asm__ volatile(
        "rdtsc\n\t"
        "mov %%eax, %k2\n\t"
        "mov %5, %%eax\n\t"
        "cpuid\n\t"
        "rdtsc"
        : "=a"(lo), "=d"(hi), "=r"(start), "=b"(ebx), "+c"(ecx)
        : "S"(leaf)
        : "memory");
    (void)ebx;
    samples[r.samples++] = lo - start;
    if (tsc_of(lo, hi) >= deadline || bench_interrupted(&r)) break;
  }
  return r;
}

// The engine answers the port write by writing an eventfd that KVM_IRQFD
// turns into the VMD_VECTOR_BENCH MSI; the sample ends at the TSC the
// handler read on entry (traps.c).
static struct bench_result bench_msi(uint32_t* samples, uint64_t iterations, uint64_t deadline,
                                     uint64_t tsc_khz) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  const uint64_t khz = tsc_khz != 0 ? tsc_khz : 3000000;  // only for the timeout
  const uint64_t timeout = (uint64_t)VMD_BENCH_MSI_TIMEOUT_MS * khz;
  volatile uint64_t* count = &this_cpu()->interrupts[VMD_VECTOR_BENCH];
  while (r.samples < iterations) {
    const uint64_t before = *count;
    register uint32_t start __asm__("r8");
    irq_enable();
    __asm__ volatile(
        "rdtsc\n\t"
        "mov %%eax, %k0\n\t"
        "outb %%al, %1"
        : "=r"(start)
        : "i"(VMD_PORT_BENCH_MSI)
        : "rax", "rdx", "memory");
    const uint32_t sent = start;
    const uint64_t give_up = rdtsc() + timeout;
    while (*count == before) {
      if (rdtsc() >= give_up || shutdown_pending()) {
        irq_disable();
        r.status = VMD_PROBE_TIMEOUT;
        r.vector = shutdown_pending() ? VMD_VECTOR_SHUTDOWN : VMD_VECTOR_BENCH;
        return r;
      }
      cpu_relax();
    }
    irq_disable();
    samples[r.samples++] = bench_irq_tsc - sent;
    if (rdtsc() >= deadline) break;
  }
  return r;
}

// Waits until a bench interrupt after `before` was taken (on any vCPU), or
// the timeout: then records why in `r` and returns 0.
static int bench_irq_wait(uint64_t before, uint64_t timeout, struct bench_result* r) {
  const uint64_t give_up = rdtsc() + timeout;
  while (__atomic_load_n(&bench_irq_count, __ATOMIC_ACQUIRE) == before) {
    if (rdtsc() >= give_up || shutdown_pending()) {
      r->status = VMD_PROBE_TIMEOUT;
      r->vector = shutdown_pending() ? VMD_VECTOR_SHUTDOWN : VMD_VECTOR_BENCH;
      return 0;
    }
    cpu_relax();
  }
  return 1;
}

// kvm-unit-tests' IPI latency: a fixed, physical-destination IPI through
// the x2APIC ICR (0x830) to vCPU `dest`, parked in HLT; the sample ends at
// the TSC its handler reads (the TSC is the same on every vCPU of a VM).
static struct bench_result bench_ipi(uint32_t* samples, uint64_t iterations, uint64_t deadline,
                                     uint64_t timeout, uint32_t dest) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  const uint64_t icr = ((uint64_t)dest << 32) | VMD_VECTOR_BENCH;
  while (r.samples < iterations) {
    const uint64_t before = __atomic_load_n(&bench_irq_count, __ATOMIC_ACQUIRE);
    const uint32_t sent = (uint32_t)rdtsc();
    const uint32_t fault = safe_wrmsr(0x830, icr);
    if (fault != FAULT_NONE) {
      r.status = VMD_PROBE_FAULT;
      r.vector = fault;
      break;
    }
    if (!bench_irq_wait(before, timeout, &r)) break;
    samples[r.samples++] = bench_irq_tsc - sent;
    if (rdtsc() >= deadline) break;
  }
  return r;
}

// kvm-unit-tests' timer latency: the LAPIC timer in TSC-deadline mode (LVT
// timer 0x832 mode 2, IA32_TSC_DEADLINE 0x6e0) `ahead` cycles out; the
// sample is from the deadline to the TSC the handler reads.
static struct bench_result bench_timer(uint32_t* samples, uint64_t iterations, uint64_t deadline,
                                       uint64_t timeout, uint32_t ahead) {
  struct bench_result r = {0, VMD_PROBE_OK, 0};
  uint32_t fault = safe_wrmsr(0x832, VMD_VECTOR_BENCH | (2u << 17));
  while (fault == FAULT_NONE && r.samples < iterations) {
    const uint64_t before = __atomic_load_n(&bench_irq_count, __ATOMIC_ACQUIRE);
    const uint64_t due = rdtsc() + ahead;
    fault = safe_wrmsr(0x6e0, due);
    if (fault != FAULT_NONE) break;
    irq_enable();
    const int fired = bench_irq_wait(before, timeout, &r);
    irq_disable();
    if (!fired) break;
    samples[r.samples++] = bench_irq_tsc - (uint32_t)due;
    if (rdtsc() >= deadline) break;
  }
  if (fault != FAULT_NONE) {
    r.status = VMD_PROBE_FAULT;
    r.vector = fault;
  }
  safe_wrmsr(0x832, 1u << 16);  // masked again
  return r;
}

void bench_run(volatile struct vmd_probe_op* op, uint64_t tsc_khz) {
  const uint32_t kind = op->kind;
  const uint32_t index = op->index;
  uint64_t iterations = op->arg;
  if (iterations > VMD_BENCH_MAX_ITERATIONS) iterations = VMD_BENCH_MAX_ITERATIONS;
  uint32_t* const samples = (uint32_t*)(uintptr_t)op->arg2;
  const uint64_t budget = (uint64_t)op->subleaf * tsc_khz;  // TSC cycles; 0: none
  const uint64_t begin = rdtsc();
  const uint64_t deadline = budget == 0 ? UINT64_MAX : begin + budget;
  const uint64_t irq_timeout = (uint64_t)VMD_BENCH_MSI_TIMEOUT_MS * (tsc_khz != 0 ? tsc_khz : 3000000);

  struct bench_result r;
  switch (kind) {
    case VMD_PROBE_BENCH_PIO:
      r = bench_pio(samples, iterations, deadline);
      break;
    case VMD_PROBE_BENCH_RDMSR:
      r = bench_rdmsr(samples, iterations, deadline, index);
      if (r.status == VMD_PROBE_OK) {
        // What the MSR reads as, outside the timed loop: the engine checks
        // that its own answer came back for a user-space MSR.
        uint64_t value = 0;
        if (safe_rdmsr(index, &value) == FAULT_NONE) op->out[2] = value;
      }
      break;
    case VMD_PROBE_BENCH_CPUID:
      r = bench_cpuid(samples, iterations, deadline, index);
      break;
    case VMD_PROBE_BENCH_MSI:
      r = bench_msi(samples, iterations, deadline, tsc_khz);
      break;
    case VMD_PROBE_BENCH_IPI:
      r = bench_ipi(samples, iterations, deadline, irq_timeout, index);
      break;
    case VMD_PROBE_BENCH_TIMER:
      r = bench_timer(samples, iterations, deadline, irq_timeout, index);
      break;
    default:
      r = (struct bench_result){0, VMD_PROBE_FAULT, 6};  // #UD: not a bench kind
      break;
  }
  op->out[0] = r.samples;
  op->out[1] = rdtsc() - begin;
  op->vector = r.vector;
  op->status = r.status;
}

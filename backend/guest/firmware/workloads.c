// The workloads of enum vmd_workload, run by vCPU 0, and the park loop of the
// other vCPUs.
#include <stdint.h>

#include "backend/guest/firmware/console.h"
#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/firmware.h"

// Sleeps in HLT with interrupts on; every interrupt wakes it, the loop checks
// for a shutdown request with interrupts off and halts again.
static __attribute__((noreturn)) void halt_loop(void) {
  for (;;) {
    irq_disable();
    power_off_if_requested();
    irq_enable_and_halt();
  }
}

void workload_idle(void) { halt_loop(); }

// Application processors park interrupt-capable: MSIs/IPIs sent to them are
// counted in the diag page, and a shutdown request they receive powers off.
void ap_park(void) { halt_loop(); }

static void heartbeat(volatile struct vmd_guest_status* status) {
  uint64_t n = status->heartbeats + 1;
  status->heartbeats = n;
  struct line line;
  line_start(&line);
  line_str(&line, "heartbeat ");
  line_u64(&line, n);
  line_str(&line, " counter=");
  line_u64(&line, status->counter);
  line_str(&line, "\n");
  console_line(&line);
}

void workload_counter(uint32_t heartbeat_ms, uint64_t tsc_khz) {
  volatile struct vmd_guest_status* status = GUEST_STATUS;
  status->counter = 0;
  status->heartbeats = 0;
  // TSC ticks per heartbeat; 0 (no period or no TSC frequency): no heartbeats.
  uint64_t period = (uint64_t)heartbeat_ms * tsc_khz;
  uint64_t next = rdtsc() + period;
  irq_enable();
  for (;;) {
    // Small batches keep heartbeat timing and shutdown latency tight even
    // where the guest runs slowly (e.g. under KVM's instruction emulator).
    for (int i = 0; i < 256; i++) status->counter = status->counter + 1;
    if (__atomic_load_n(&shutdown_requested, __ATOMIC_ACQUIRE) != 0) {
      irq_disable();
      power_off(VMD_POWER_OFF_OK);
    }
    if (period == 0) continue;
    uint64_t now = rdtsc();
    if (now < next) continue;
    heartbeat(status);
    next += period;
    // After a long pause (the engine stopped running the vCPU) skip the missed
    // periods instead of printing a burst of catch-up lines.
    if (next <= now) next = now + period;
  }
}

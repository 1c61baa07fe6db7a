#include <stdint.h>

#include "backend/guest/firmware/console.h"
#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/firmware.h"

static volatile uint32_t powering_off;

void power_off(uint8_t code) {
  irq_disable();
  if (__atomic_exchange_n(&powering_off, 1u, __ATOMIC_ACQ_REL) == 0) {
    if (code == VMD_POWER_OFF_OK) console_str(VMD_CONSOLE_POWER_OFF_LINE);
    outb(VMD_PORT_POWER, code);
  }
  // The engine stops the VM on the port write; until then, and if it ever runs
  // this vCPU again, stay halted with interrupts off.
  for (;;) __asm__ volatile("cli; hlt" ::: "memory");
}

void power_off_if_requested(void) {
  if (__atomic_load_n(&shutdown_requested, __ATOMIC_ACQUIRE) != 0) power_off(VMD_POWER_OFF_OK);
}

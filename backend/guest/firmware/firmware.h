// State and entry points shared by the firmware's modules.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_FIRMWARE_H_
#define VMD_BACKEND_GUEST_FIRMWARE_FIRMWARE_H_

#include <stdint.h>

#include "backend/guest/guest_abi.h"

#define BOOT_INFO ((const volatile struct vmd_boot_info*)VMD_BOOT_INFO_GPA)
#define GUEST_STATUS ((volatile struct vmd_guest_status*)VMD_GUEST_STATUS_GPA)
#define GUEST_DIAG ((volatile struct vmd_guest_diag*)VMD_GUEST_DIAG_GPA)
#define PROBE_MAILBOX ((volatile struct vmd_probe_mailbox*)VMD_PROBE_MAILBOX_GPA)

#define VECTOR_NMI 2
#define VECTOR_SPURIOUS 0xff

// Set by the interrupt handler when VMD_VECTOR_SHUTDOWN arrives on any vCPU.
extern volatile uint32_t shutdown_requested;

// descriptors.c: the firmware's own GDT and IDT.
void gdt_load(void);
void idt_build(void);  // once, on the BSP
void idt_load(void);   // on every vCPU

// apic.c: switches the local APIC to x2APIC mode and enables it; returns
// whether the x2APIC id and CPUID's ids all equal `id`.
int apic_init(uint32_t id);

// power.c: writes `code` to VMD_PORT_POWER (once per VM, whichever vCPU gets
// there first) and stops this vCPU.
__attribute__((noreturn)) void power_off(uint8_t code);
// Powers off gracefully if a shutdown was requested; call with interrupts off.
void power_off_if_requested(void);

// workloads.c
__attribute__((noreturn)) void workload_idle(void);
__attribute__((noreturn)) void workload_counter(uint32_t heartbeat_ms, uint64_t tsc_khz);
__attribute__((noreturn)) void ap_park(void);

// probe.c: runs probe programs from the mailbox (VMD_WORKLOAD_PROBE).
__attribute__((noreturn)) void workload_probe(uint64_t tsc_khz);

// bench.c: runs one VMD_PROBE_BENCH_* op (guest_abi.h) for probe.c.
void bench_run(volatile struct vmd_probe_op* op, uint64_t tsc_khz);
// The low 32 bits of the TSC the handler of VMD_VECTOR_BENCH read on entry
// (traps.c writes it, the MSI bench reads it).
extern volatile uint32_t bench_irq_tsc;
// Bench interrupts taken by any vCPU (the IPI bench waits on another's).
extern volatile uint64_t bench_irq_count;

#endif  // VMD_BACKEND_GUEST_FIRMWARE_FIRMWARE_H_

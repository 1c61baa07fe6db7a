// The contract between the engine and the guest firmware, shared by the
// firmware (freestanding C) and the engine (C++). The sim backend's guest
// model follows the same contract, so both backends are driven identically.
#ifndef VMD_BACKEND_GUEST_GUEST_ABI_H_
#define VMD_BACKEND_GUEST_GUEST_ABI_H_

#include <stdint.h>

// Guest-physical layout (low memory; the rest is free for the workload).
#define VMD_BOOT_INFO_GPA 0x5000ull     // struct vmd_boot_info, written by the engine
#define VMD_GUEST_STATUS_GPA 0x6000ull  // struct vmd_guest_status, written by the guest
#define VMD_MIN_MEMORY_MIB 16

// I/O ports. Completion and requests go through ports, never HLT: with the
// in-kernel irqchip KVM handles HLT itself and does not exit.
#define VMD_PORT_COM1 0x3f8       // 16550 UART, 8 registers
#define VMD_PORT_POWER 0xf4       // out8: the guest powers off (value = exit code)

// Interrupt the engine sends (MSI, fixed, to APIC 0) to ask for a graceful
// power-off, like an ACPI power button.
#define VMD_VECTOR_SHUTDOWN 0xf0

#define VMD_BOOT_INFO_MAGIC 0x31444d56u  // "VMD1"

enum vmd_workload {
  VMD_WORKLOAD_IDLE = 0,     // wait for interrupts; power off on request
  VMD_WORKLOAD_COUNTER = 1,  // advance status.counter, heartbeat on COM1
  VMD_WORKLOAD_PROBE = 2,    // run probe programs from the mailbox (below)
};

struct vmd_boot_info {
  uint32_t magic;
  uint32_t workload;      // enum vmd_workload
  uint32_t vcpus;
  uint32_t heartbeat_ms;  // counter workload: period of its console line
  uint64_t memory_bytes;
  uint64_t tsc_khz;       // guest TSC frequency, for time-based loops
};

struct vmd_guest_status {
  uint64_t counter;  // counter workload: advanced by the guest, never by the engine
  uint64_t heartbeats;
};


// ---------------------------------------------------------------------------
// Firmware layout and boot protocol (kvm backend <-> firmware). Added with the
// firmware; everything above is unchanged.
//
// Guest-physical map (identity-mapped, 2 MiB pages: the first 4 GiB with the
// MMIO hole, and all of RAM up to VMD_IDENTITY_MAP_MAX_BYTES):
//   0x000000  page 0, unused
//   0x001000  boot GDT (null, 64-bit code 0x08, data 0x10, TSS 0x18)
//   0x002000  boot TSS (zero; TR must be valid for VM entry)
//   0x005000  struct vmd_boot_info        (above)
//   0x006000  struct vmd_guest_status     (above)
//   0x007000  struct vmd_guest_diag       (below)
//   0x008000  free (reserved for the probe-program mailbox)
//   0x010000  page tables: PML4, PDPT, then one PD per GiB
//   0x100000  firmware image (code, data, bss), entry at its first byte
//   0x200000  per-vCPU stacks, VMD_STACK_BYTES each; vCPU i's stack ends at
//             VMD_STACKS_GPA + (i + 1) * VMD_STACK_BYTES
// Entry state, every vCPU: 64-bit long mode, CPL 0, interrupts off,
// RIP = VMD_FIRMWARE_ENTRY_GPA, RSP = its stack top, RDI = vCPU id (= x2APIC
// id), RSI = VMD_BOOT_INFO_GPA, IDT empty (a fault before the firmware loads
// its IDT is a triple fault). vCPU 0 runs the workload; the other vCPUs set up
// (GDT, IDT, x2APIC) and park in an interrupts-on HLT loop: they count the
// interrupts sent to them and power off if they receive VMD_VECTOR_SHUTDOWN.
// ---------------------------------------------------------------------------
#define VMD_BOOT_GDT_GPA 0x1000ull
#define VMD_BOOT_TSS_GPA 0x2000ull
#define VMD_GUEST_DIAG_GPA 0x7000ull
#define VMD_PAGE_TABLES_GPA 0x10000ull
#define VMD_PAGE_TABLES_MAX_BYTES 0x70000ull  // PML4 + PDPT + 110 PDs
#define VMD_IDENTITY_MAP_MAX_BYTES (110ull << 30)
#define VMD_FIRMWARE_GPA 0x100000ull
#define VMD_FIRMWARE_MAX_BYTES 0x100000ull
#define VMD_FIRMWARE_ENTRY_GPA VMD_FIRMWARE_GPA
#define VMD_STACKS_GPA 0x200000ull
#define VMD_STACK_BYTES 0x4000ull

// Boot GDT selectors (the firmware's own GDT uses the same ones).
#define VMD_SELECTOR_CODE64 0x08
#define VMD_SELECTOR_DATA 0x10
#define VMD_SELECTOR_TSS 0x18

// Values the firmware writes to VMD_PORT_POWER.
#define VMD_POWER_OFF_OK 0            // graceful (shutdown vector)
#define VMD_POWER_OFF_BAD_BOOT_INFO 2  // boot info magic wrong
#define VMD_POWER_OFF_BAD_WORKLOAD 3   // unknown workload

// Console lines the firmware prints besides the boot line and heartbeats
// (format: "vmd firmware: <workload name> on <vcpus> vcpu(s)\n" and
// "heartbeat <n> counter=<counter>\n"). The counter workload zeroes
// status.counter and status.heartbeats when it starts; every heartbeat_ms of
// TSC time (boot_info.tsc_khz) it increments status.heartbeats and prints the
// line with n = the new value (1, 2, ...). heartbeat_ms == 0 or tsc_khz == 0:
// no heartbeats. The power-off line is printed once, by whichever vCPU takes
// the shutdown vector, just before it writes VMD_POWER_OFF_OK.
#define VMD_CONSOLE_POWER_OFF_LINE "vmd firmware: power-off requested\n"

#define VMD_GUEST_DIAG_MAGIC 0x47444d56u  // "VMDG"
#define VMD_FIXUP_SELFTEST_PASSED 1u
#define VMD_FIXUP_SELFTEST_FAILED 2u

// Written by the firmware (kvm backend only; the sim has no x86 to diagnose).
// Fields the guest changes at run time: read them with volatile/atomic loads.
struct vmd_guest_diag {
  uint32_t magic;             // VMD_GUEST_DIAG_MAGIC once the BSP set up
  uint32_t vcpus_online;      // vCPUs that finished their setup
  uint64_t exceptions;        // CPU exceptions taken (fixed up or fatal)
  uint32_t last_vector;       // of the most recent exception
  uint32_t last_vcpu;
  uint64_t last_error_code;
  uint64_t last_rip;
  uint32_t fixup_selftest;    // VMD_FIXUP_SELFTEST_*: #UD and #GP fixed up at boot
  uint32_t apic_id_mismatches;  // vCPUs whose x2APIC id / CPUID.0xB id != RDI
  uint64_t interrupts[256];   // external interrupts taken, by vector (all vCPUs)
};

// ---------------------------------------------------------------------------
// Probe programs (workload VMD_WORKLOAD_PROBE). The engine writes a program
// into the mailbox, bumps `sequence` and sends the VMD_VECTOR_PROBE doorbell
// (MSI to APIC 0). vCPU 0 runs the ops in order, recording per op the result
// or the exception it raised (a fault is fixed up and the next op runs), sets
// `done_sequence` = `sequence`, then writes `sequence` with out32 to
// VMD_PORT_PROBE_DONE. The sim backend's guest model does the same.
// ---------------------------------------------------------------------------
#define VMD_PROBE_MAILBOX_GPA 0x8000ull  // up to the page tables at 0x10000
#define VMD_PORT_PROBE_DONE 0xf8         // out32: the sequence just finished
#define VMD_VECTOR_PROBE 0xf1
#define VMD_PROBE_MAGIC 0x424f5250u      // "PROB"
#define VMD_PROBE_MAX_OPS 256

enum vmd_probe_kind {
  VMD_PROBE_RDMSR = 1,           // index = MSR                    -> out[0] = value
  VMD_PROBE_WRMSR = 2,           // index = MSR, arg = value
  VMD_PROBE_CPUID = 3,           // index = leaf, subleaf           -> out[0..3] = eax..edx
  VMD_PROBE_RDTSC = 4,           //                                 -> out[0] = tsc
  // index = vector, subleaf = timeout us -> out[0] = interrupts of that
  // vector taken since the program started or since the previous
  // WAIT_INTERRUPT of the same vector in it (so an interrupt that arrived
  // before the wait counts); waits only while that is 0.
  VMD_PROBE_WAIT_INTERRUPT = 5,
  VMD_PROBE_READ_MEM = 6,        // index = size (1,2,4,8), arg = gpa -> out[0] = value
  VMD_PROBE_WRITE_MEM = 7,       // index = size, arg = gpa, arg2 = value
  VMD_PROBE_SPIN = 8,            // arg = iterations                -> out[0] = TSC cycles taken
  VMD_PROBE_WRITE_CR4 = 9,       // arg = value                     -> out[0] = CR4 read back
  VMD_PROBE_XSETBV = 10,         // index = XCR, arg = value
};

enum vmd_probe_status {
  VMD_PROBE_PENDING = 0,  // not run (the engine zeroes results before a program)
  VMD_PROBE_OK = 1,
  VMD_PROBE_FAULT = 2,    // vector = the exception
  VMD_PROBE_TIMEOUT = 3,  // WAIT_INTERRUPT timed out
};

struct vmd_probe_op {
  // Written by the engine.
  uint32_t kind;     // enum vmd_probe_kind
  uint32_t index;
  uint32_t subleaf;
  uint32_t reserved;
  uint64_t arg;
  uint64_t arg2;
  // Written by the guest.
  uint32_t status;   // enum vmd_probe_status
  uint32_t vector;
  uint64_t out[4];
};

struct vmd_probe_mailbox {
  uint32_t magic;          // VMD_PROBE_MAGIC
  uint32_t nops;
  uint32_t sequence;       // engine: one more for each program
  uint32_t done_sequence;  // guest: the program it finished
  struct vmd_probe_op ops[VMD_PROBE_MAX_OPS];
};

// ---------------------------------------------------------------------------
// Guest micro-benchmarks (after kvm-unit-tests' arm micro-bench): probe op
// kinds internal to the engine, never exposed in the public ProbeOp. Each runs
// in a program of its own and times `arg` round trips (at most
// VMD_BENCH_MAX_ITERATIONS) of one kind with RDTSC. The timed window is the
// same for every kind and for the engine's raw-KVM floor VM:
//     rdtsc; mov %eax,%r8d; <round trip>; rdtsc      sample = eax - r8d
// i.e. one uint32_t sample per iteration, in guest TSC cycles (convert with
// boot_info.tsc_khz) modulo 2^32, written to guest memory at `arg2` (the
// sample buffer, 4-byte aligned, arg * 4 bytes). `subleaf` is a time budget
// in ms (0: none): once a round trip ends past it, the op stops early.
// Results: out[0] = samples written; out[1] = TSC cycles the op took;
// out[2] = the last value RDMSR read (BENCH_RDMSR). A fault in the timed
// instruction ends the op with status FAULT and its vector. Status TIMEOUT
// ends it early otherwise: vector VMD_VECTOR_BENCH when a bench MSI was not
// taken within VMD_BENCH_MSI_TIMEOUT_MS, VMD_VECTOR_SHUTDOWN when a shutdown
// request came (the loops let interrupts in every few thousand round trips).
// out[0] counts the samples before any of these.
// ---------------------------------------------------------------------------
#define VMD_PORT_BENCH 0xfa      // 2 ports, the engine's bench device:
#define VMD_PORT_BENCH_PIO 0xfa  // out8: dropped by the engine (a null device)
#define VMD_PORT_BENCH_MSI 0xfb  // out8: the engine writes the bench irqfd
#define VMD_PORT_BENCH_COUNT 2
// The vector of the bench MSI (fixed, to APIC 0). The firmware's interrupt
// handler reads the TSC on entry for it before anything else.
#define VMD_VECTOR_BENCH 0xf2
// An MSR index no CPU or KVM defines ("VMDB"): while a bench runs the engine
// filters its reads to user space and answers VMD_BENCH_MSR_VALUE.
#define VMD_BENCH_MSR 0x564d4442u
#define VMD_BENCH_MSR_VALUE 0x76d64bec0ffee000ull
// The engine's default sample buffer: above the stacks of up to 128 vCPUs
// (a VM with more puts it after its last stack, 2 MiB aligned).
#define VMD_BENCH_SAMPLES_GPA 0x400000ull
#define VMD_BENCH_MAX_ITERATIONS 1000000u
#define VMD_BENCH_MSI_TIMEOUT_MS 1000u

enum vmd_probe_bench_kind {
  VMD_PROBE_BENCH_PIO = 0x100,    // out8 VMD_PORT_BENCH_PIO, handled by the engine
  VMD_PROBE_BENCH_RDMSR = 0x101,  // index = MSR: rdmsr (user space or kernel, per filter)
  VMD_PROBE_BENCH_CPUID = 0x102,  // index = leaf, subleaf 0: cpuid (handled in the kernel)
  // out8 VMD_PORT_BENCH_MSI with interrupts on; the sample ends when the
  // handler of VMD_VECTOR_BENCH reads the TSC.
  VMD_PROBE_BENCH_MSI = 0x103,
  // index = destination x2APIC id: an IPI of VMD_VECTOR_BENCH through the
  // x2APIC ICR; the sample ends when the destination's handler reads the TSC.
  VMD_PROBE_BENCH_IPI = 0x104,
  // index = TSC cycles ahead: the LAPIC timer in TSC-deadline mode on
  // VMD_VECTOR_BENCH; the sample is from the deadline to the handler.
  VMD_PROBE_BENCH_TIMER = 0x105,
};

#endif  // VMD_BACKEND_GUEST_GUEST_ABI_H_

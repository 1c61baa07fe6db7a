// Firmware main: per-vCPU setup, then vCPU 0 runs the workload from the boot
// info and the other vCPUs park. Console lines (exact formats are part of the
// engine/sim contract):
//   "vmd firmware: <idle|counter> on <vcpus> vcpu(s)\n"   at boot
//   "heartbeat <n> counter=<counter>\n"                    counter workload
//   VMD_CONSOLE_POWER_OFF_LINE                             shutdown vector
// (workload names: idle, counter, probe).
#include <stdint.h>

#include "backend/guest/firmware/console.h"
#include "backend/guest/firmware/cpu.h"
#include "backend/guest/firmware/fault.h"
#include "backend/guest/firmware/firmware.h"
#include "backend/guest/firmware/percpu.h"

#define VECTOR_UD 6
#define VECTOR_GP 13
#define NON_CANONICAL_ADDRESS 0x8000000000000000ull

_Static_assert(sizeof(struct vmd_guest_diag) <= 0x1000, "the diag page is one page");
_Static_assert(sizeof(struct percpu) <= VMD_STACK_BYTES / 4, "percpu leaves room for the stack");
_Static_assert(sizeof(struct vmd_probe_mailbox) <= VMD_PAGE_TABLES_GPA - VMD_PROBE_MAILBOX_GPA,
               "the probe mailbox ends before the page tables");

// Set by the BSP once the IDT and the diag page are ready.
static volatile uint32_t global_ready;

void percpu_init(uint32_t id) {
  struct percpu* cpu = (struct percpu*)(VMD_STACKS_GPA + (uint64_t)id * VMD_STACK_BYTES);
  cpu->self = cpu;
  cpu->id = id;
  cpu->in_fatal = 0;
  cpu->fault_vector = FAULT_NONE;
  cpu->fault_error_code = 0;
  cpu->fault_rip = 0;
  for (int v = 0; v < 256; v++) cpu->interrupts[v] = 0;
  wrmsr(MSR_IA32_GS_BASE, (uint64_t)cpu);
}

static void diag_init(void) {
  volatile uint8_t* bytes = (volatile uint8_t*)GUEST_DIAG;
  for (uint64_t i = 0; i < sizeof(struct vmd_guest_diag); i++) bytes[i] = 0;
  GUEST_DIAG->magic = VMD_GUEST_DIAG_MAGIC;
}

// Checks that fix-ups work before anything relies on them: a #UD and a #GP
// (load from a non-canonical address) must both be caught and resumed.
static void fixup_selftest(void) {
  uint64_t value;
  uint32_t ud = safe_ud2();
  uint32_t gp = safe_read64(NON_CANONICAL_ADDRESS, &value);
  int passed = ud == VECTOR_UD && gp == VECTOR_GP;
  GUEST_DIAG->fixup_selftest = passed ? VMD_FIXUP_SELFTEST_PASSED : VMD_FIXUP_SELFTEST_FAILED;
  if (!passed) {
    struct line line;
    line_start(&line);
    line_str(&line, "vmd firmware: exception fix-up self-test failed: ud2 gave ");
    line_u64(&line, ud);
    line_str(&line, ", non-canonical load gave ");
    line_u64(&line, gp);
    line_str(&line, "\n");
    console_line(&line);
  }
}

static const char* workload_name(uint32_t workload) {
  switch (workload) {
    case VMD_WORKLOAD_IDLE: return "idle";
    case VMD_WORKLOAD_COUNTER: return "counter";
    case VMD_WORKLOAD_PROBE: return "probe";
  }
  return 0;
}

// Checks the boot info and prints the boot line. It runs first on the BSP,
// before the IDT and the APIC are set up: the console needs only port I/O,
// and the line then marks the start of the guest (the start latency vmd
// reports) rather than the end of the firmware's own setup.
static uint32_t bsp_banner(void) {
  const volatile struct vmd_boot_info* boot = BOOT_INFO;
  struct line line;
  line_start(&line);
  if (boot->magic != VMD_BOOT_INFO_MAGIC) {
    line_str(&line, "vmd firmware: bad boot info magic ");
    line_hex(&line, boot->magic);
    line_str(&line, "\n");
    console_line(&line);
    power_off(VMD_POWER_OFF_BAD_BOOT_INFO);
  }
  uint32_t workload = boot->workload;
  const char* name = workload_name(workload);
  if (name == 0) {
    line_str(&line, "vmd firmware: unknown workload ");
    line_u64(&line, workload);
    line_str(&line, "\n");
    console_line(&line);
    power_off(VMD_POWER_OFF_BAD_WORKLOAD);
  }
  line_str(&line, "vmd firmware: ");
  line_str(&line, name);
  line_str(&line, " on ");
  line_u64(&line, boot->vcpus);
  line_str(&line, " vcpu(s)\n");
  console_line(&line);
  return workload;
}

static __attribute__((noreturn)) void bsp_main(uint32_t workload) {
  const volatile struct vmd_boot_info* boot = BOOT_INFO;
  if (workload == VMD_WORKLOAD_COUNTER) workload_counter(boot->heartbeat_ms, boot->tsc_khz);
  if (workload == VMD_WORKLOAD_PROBE) workload_probe(boot->tsc_khz);
  workload_idle();
}

void vmd_main(uint32_t id, uint64_t boot_info_gpa);
void vmd_main(uint32_t id, uint64_t boot_info_gpa) {
  (void)boot_info_gpa;  // always VMD_BOOT_INFO_GPA
  percpu_init(id);
  gdt_load();
  uint32_t workload = 0;
  if (id == 0) {
    workload = bsp_banner();
    idt_build();
    diag_init();
    __atomic_store_n(&global_ready, 1u, __ATOMIC_RELEASE);
  } else {
    while (__atomic_load_n(&global_ready, __ATOMIC_ACQUIRE) == 0) cpu_relax();
  }
  idt_load();
  if (!apic_init(id)) __atomic_add_fetch(&GUEST_DIAG->apic_id_mismatches, 1, __ATOMIC_RELAXED);
  if (id == 0) fixup_selftest();
  __atomic_add_fetch(&GUEST_DIAG->vcpus_online, 1, __ATOMIC_RELEASE);
  if (id == 0) bsp_main(workload);
  ap_park();
}

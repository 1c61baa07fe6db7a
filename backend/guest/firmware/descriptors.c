// The firmware's own GDT and IDT. The GDT has the same selectors as the
// engine-built boot GDT (guest_abi.h); every IDT entry is an interrupt gate
// (IF cleared on entry) to its stub in isr.S.
#include <stdint.h>

#include "backend/guest/firmware/firmware.h"

struct descriptor_pointer {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

struct idt_gate {
  uint16_t offset_0_15;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attributes;
  uint16_t offset_16_31;
  uint32_t offset_32_63;
  uint32_t reserved;
};
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gates are 16 bytes in long mode");

#define IDT_PRESENT_INTERRUPT_GATE 0x8e  // P=1, DPL=0, type 0xe

static const uint64_t gdt[] __attribute__((aligned(16))) = {
    0,                      // null
    0x00af9a000000ffffull,  // 0x08: 64-bit code, DPL 0
    0x00cf92000000ffffull,  // 0x10: data, DPL 0
};

static struct idt_gate idt[256] __attribute__((aligned(16)));

extern const char isr_stubs[];

void gdt_load(void) {
  struct descriptor_pointer pointer = {sizeof(gdt) - 1, (uint64_t)gdt};
  // Reload CS with a far return, then the data segments. FS and GS keep their
  // selectors: GS.base holds the percpu pointer.
  __asm__ volatile(
      "lgdt %0\n\t"
      "pushq %1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movl %2, %%eax\n\t"
      "movl %%eax, %%ds\n\t"
      "movl %%eax, %%es\n\t"
      "movl %%eax, %%ss\n\t"
      :
      : "m"(pointer), "i"(VMD_SELECTOR_CODE64), "i"(VMD_SELECTOR_DATA)
      : "rax", "memory");
}

void idt_build(void) {
  for (int vector = 0; vector < 256; vector++) {
    uint64_t handler = (uint64_t)(isr_stubs + 16 * vector);
    idt[vector] = (struct idt_gate){
        .offset_0_15 = (uint16_t)handler,
        .selector = VMD_SELECTOR_CODE64,
        .ist = 0,
        .type_attributes = IDT_PRESENT_INTERRUPT_GATE,
        .offset_16_31 = (uint16_t)(handler >> 16),
        .offset_32_63 = (uint32_t)(handler >> 32),
        .reserved = 0,
    };
  }
}

void idt_load(void) {
  struct descriptor_pointer pointer = {sizeof(idt) - 1, (uint64_t)idt};
  __asm__ volatile("lidt %0" : : "m"(pointer) : "memory");
}

#include "backend/guest/firmware/console.h"

#include "backend/guest/firmware/cpu.h"
#include "backend/guest/guest_abi.h"

#define UART_THR 0  // transmit holding register
#define UART_LSR 5  // line status register
#define UART_LSR_THRE 0x20

static volatile uint32_t console_lock;

void line_start(struct line* line) { line->length = 0; }

static void line_putc(struct line* line, char c) {
  if (line->length < sizeof(line->text)) line->text[line->length++] = c;
}

void line_str(struct line* line, const char* s) {
  while (*s != '\0') line_putc(line, *s++);
}

void line_u64(struct line* line, uint64_t value) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0) line_putc(line, digits[--n]);
}

void line_hex(struct line* line, uint64_t value) {
  static const char kHex[] = "0123456789abcdef";
  line_str(line, "0x");
  int shift = 60;
  while (shift > 0 && ((value >> shift) & 0xf) == 0) shift -= 4;
  for (; shift >= 0; shift -= 4) line_putc(line, kHex[(value >> shift) & 0xf]);
}

static void uart_putc(char c) {
  while ((inb(VMD_PORT_COM1 + UART_LSR) & UART_LSR_THRE) == 0) cpu_relax();
  outb(VMD_PORT_COM1 + UART_THR, (uint8_t)c);
}

void console_line_unlocked(const struct line* line) {
  for (uint32_t i = 0; i < line->length; i++) uart_putc(line->text[i]);
}

void console_line(const struct line* line) {
  // Interrupt handlers never print (except the fatal path, which does not
  // lock), so a plain spinlock with interrupts left alone cannot deadlock.
  while (__atomic_exchange_n(&console_lock, 1u, __ATOMIC_ACQUIRE) != 0) cpu_relax();
  console_line_unlocked(line);
  __atomic_store_n(&console_lock, 0u, __ATOMIC_RELEASE);
}

void console_str(const char* s) {
  struct line line;
  line_start(&line);
  line_str(&line, s);
  console_line(&line);
}

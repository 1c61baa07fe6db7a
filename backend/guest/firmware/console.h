// COM1 console: polled 16550 transmit, whole lines under a lock so that lines
// from different vCPUs never interleave.
#ifndef VMD_BACKEND_GUEST_FIRMWARE_CONSOLE_H_
#define VMD_BACKEND_GUEST_FIRMWARE_CONSOLE_H_

#include <stdint.h>

// A line being built; text beyond the buffer is dropped.
struct line {
  char text[200];
  uint32_t length;
};

void line_start(struct line* line);
void line_str(struct line* line, const char* s);
void line_u64(struct line* line, uint64_t value);
void line_hex(struct line* line, uint64_t value);  // "0x..." lower case

// Writes the line to COM1 as one unit.
void console_line(const struct line* line);
void console_str(const char* s);
// For the fatal-exception path: writes without taking the lock (which the
// faulting code may hold).
void console_line_unlocked(const struct line* line);

#endif  // VMD_BACKEND_GUEST_FIRMWARE_CONSOLE_H_

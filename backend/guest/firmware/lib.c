// The few libc functions GCC may emit calls to even in freestanding code.
#include <stddef.h>
#include <stdint.h>

void* memset(void* dest, int c, size_t n);
void* memcpy(void* dest, const void* src, size_t n);
void* memmove(void* dest, const void* src, size_t n);
int memcmp(const void* a, const void* b, size_t n);

void* memset(void* dest, int c, size_t n) {
  uint8_t* d = dest;
  while (n-- > 0) *d++ = (uint8_t)c;
  return dest;
}

void* memcpy(void* dest, const void* src, size_t n) {
  uint8_t* d = dest;
  const uint8_t* s = src;
  while (n-- > 0) *d++ = *s++;
  return dest;
}

void* memmove(void* dest, const void* src, size_t n) {
  uint8_t* d = dest;
  const uint8_t* s = src;
  if (d < s) {
    while (n-- > 0) *d++ = *s++;
  } else {
    while (n-- > 0) d[n] = s[n];
  }
  return dest;
}

int memcmp(const void* a, const void* b, size_t n) {
  const uint8_t* x = a;
  const uint8_t* y = b;
  for (; n > 0; n--, x++, y++) {
    if (*x != *y) return *x < *y ? -1 : 1;
  }
  return 0;
}

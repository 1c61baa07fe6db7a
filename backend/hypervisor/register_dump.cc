#include "backend/hypervisor/register_dump.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace vmd::hv {
namespace {

std::string FormatSegment(const char* name, const Segment& s) {
  return absl::StrFormat("  %-3s sel=0x%04x base=0x%016x limit=0x%08x type=0x%x%s%s%s%s dpl=%d\n",
                         name, s.selector, s.base, s.limit, s.type, s.present ? " P" : "",
                         s.l ? " L" : "", s.db ? " DB" : "", s.unusable ? " unusable" : "",
                         s.dpl);
}

}  // namespace

std::string FormatRegisters(const Registers& r, const SpecialRegisters& s) {
  std::string out;
  absl::StrAppendFormat(&out, "  rip=0x%016x rflags=0x%016x\n", r.rip, r.rflags);
  absl::StrAppendFormat(&out, "  rax=0x%016x rbx=0x%016x rcx=0x%016x rdx=0x%016x\n", r.rax, r.rbx,
                        r.rcx, r.rdx);
  absl::StrAppendFormat(&out, "  rsi=0x%016x rdi=0x%016x rbp=0x%016x rsp=0x%016x\n", r.rsi, r.rdi,
                        r.rbp, r.rsp);
  absl::StrAppendFormat(&out, "  r8 =0x%016x r9 =0x%016x r10=0x%016x r11=0x%016x\n", r.r8, r.r9,
                        r.r10, r.r11);
  absl::StrAppendFormat(&out, "  r12=0x%016x r13=0x%016x r14=0x%016x r15=0x%016x\n", r.r12,
                        r.r13, r.r14, r.r15);
  absl::StrAppendFormat(&out, "  cr0=0x%016x cr2=0x%016x cr3=0x%016x cr4=0x%016x\n", s.cr0, s.cr2,
                        s.cr3, s.cr4);
  absl::StrAppendFormat(&out, "  cr8=0x%016x efer=0x%016x apic_base=0x%016x\n", s.cr8, s.efer,
                        s.apic_base);
  absl::StrAppend(&out, FormatSegment("cs", s.cs), FormatSegment("ss", s.ss), FormatSegment("ds", s.ds),
                  FormatSegment("es", s.es), FormatSegment("fs", s.fs), FormatSegment("gs", s.gs),
                  FormatSegment("tr", s.tr), FormatSegment("ldt", s.ldt));
  absl::StrAppendFormat(&out, "  gdt base=0x%016x limit=0x%04x\n", s.gdt.base, s.gdt.limit);
  absl::StrAppendFormat(&out, "  idt base=0x%016x limit=0x%04x\n", s.idt.base, s.idt.limit);
  return out;
}

}  // namespace vmd::hv

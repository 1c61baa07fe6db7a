#include "backend/snapshot/state_codec.h"

#include <algorithm>
#include <array>

#include "absl/strings/str_cat.h"

namespace vmd::snapshot {
namespace {

using engine::v1::CpuidEntry;

void EncodeCpuid(const cpu::CpuidTable& table, google::protobuf::RepeatedPtrField<CpuidEntry>* out) {
  for (const cpu::CpuidEntry& e : table) {
    CpuidEntry* p = out->Add();
    p->set_function(e.function);
    p->set_index(e.index);
    p->set_significant_index(e.significant_index);
    p->set_eax(e.eax);
    p->set_ebx(e.ebx);
    p->set_ecx(e.ecx);
    p->set_edx(e.edx);
  }
}

cpu::CpuidTable DecodeCpuid(const google::protobuf::RepeatedPtrField<CpuidEntry>& entries) {
  cpu::CpuidTable table;
  for (const CpuidEntry& p : entries) {
    table.push_back({.function = p.function(), .index = p.index(), .significant_index = p.significant_index(),
                     .eax = p.eax(), .ebx = p.ebx(), .ecx = p.ecx(), .edx = p.edx()});
  }
  return table;
}

engine::v1::Segment EncodeSegment(const hv::Segment& s) {
  engine::v1::Segment p;
  p.set_base(s.base);
  p.set_limit(s.limit);
  p.set_selector(s.selector);
  p.set_type(s.type);
  p.set_dpl(s.dpl);
  p.set_present(s.present);
  p.set_s(s.s);
  p.set_db(s.db);
  p.set_l(s.l);
  p.set_g(s.g);
  p.set_avl(s.avl);
  p.set_unusable(s.unusable);
  return p;
}

hv::Segment DecodeSegment(const engine::v1::Segment& p) {
  return {.base = p.base(),
          .limit = p.limit(),
          .selector = static_cast<uint16_t>(p.selector()),
          .type = static_cast<uint8_t>(p.type()),
          .dpl = static_cast<uint8_t>(p.dpl()),
          .present = p.present(),
          .s = p.s(),
          .db = p.db(),
          .l = p.l(),
          .g = p.g(),
          .avl = p.avl(),
          .unusable = p.unusable()};
}

// The general-purpose registers in the proto's order.
std::array<uint64_t hv::Registers::*, 16> Gprs() {
  using R = hv::Registers;
  return {&R::rax, &R::rbx, &R::rcx, &R::rdx, &R::rsi, &R::rdi, &R::rsp, &R::rbp,
          &R::r8,  &R::r9,  &R::r10, &R::r11, &R::r12, &R::r13, &R::r14, &R::r15};
}

// The PIC's fields in the proto's order.
std::array<uint8_t hv::PicState::*, 16> PicFields() {
  using P = hv::PicState;
  return {&P::last_irr, &P::irr, &P::imr, &P::isr, &P::priority_add, &P::irq_base, &P::read_reg_select,
          &P::poll, &P::special_mask, &P::init_state, &P::auto_eoi, &P::rotate_on_auto_eoi,
          &P::special_fully_nested_mode, &P::init4, &P::elcr, &P::elcr_mask};
}

engine::v1::PicState EncodePic(const hv::PicState& pic) {
  std::string bytes;
  for (auto field : PicFields()) bytes.push_back(static_cast<char>(pic.*field));
  engine::v1::PicState p;
  p.set_registers(bytes);
  return p;
}

absl::StatusOr<hv::PicState> DecodePic(const engine::v1::PicState& p) {
  hv::PicState pic;
  const auto fields = PicFields();
  if (p.registers().size() != fields.size()) {
    return absl::InvalidArgumentError(absl::StrCat("PIC state has ", p.registers().size(), " bytes, not ", fields.size()));
  }
  for (size_t i = 0; i < fields.size(); ++i) pic.*fields[i] = static_cast<uint8_t>(p.registers()[i]);
  return pic;
}

}  // namespace

engine::v1::VcpuState EncodeVcpuState(const hv::VcpuState& s) {
  engine::v1::VcpuState p;
  p.set_id(s.id);
  EncodeCpuid(s.cpuid, p.mutable_cpuid());
  p.set_tsc_khz(s.tsc_khz);
  p.set_mp_state(static_cast<uint32_t>(s.mp_state));
  for (auto gpr : Gprs()) p.mutable_regs()->add_gprs(s.regs.*gpr);
  p.mutable_regs()->set_rip(s.regs.rip);
  p.mutable_regs()->set_rflags(s.regs.rflags);
  engine::v1::SpecialRegisters* sr = p.mutable_sregs();
  *sr->mutable_cs() = EncodeSegment(s.sregs.cs);
  *sr->mutable_ds() = EncodeSegment(s.sregs.ds);
  *sr->mutable_es() = EncodeSegment(s.sregs.es);
  *sr->mutable_fs() = EncodeSegment(s.sregs.fs);
  *sr->mutable_gs() = EncodeSegment(s.sregs.gs);
  *sr->mutable_ss() = EncodeSegment(s.sregs.ss);
  *sr->mutable_tr() = EncodeSegment(s.sregs.tr);
  *sr->mutable_ldt() = EncodeSegment(s.sregs.ldt);
  sr->mutable_gdt()->set_base(s.sregs.gdt.base);
  sr->mutable_gdt()->set_limit(s.sregs.gdt.limit);
  sr->mutable_idt()->set_base(s.sregs.idt.base);
  sr->mutable_idt()->set_limit(s.sregs.idt.limit);
  sr->set_cr0(s.sregs.cr0);
  sr->set_cr2(s.sregs.cr2);
  sr->set_cr3(s.sregs.cr3);
  sr->set_cr4(s.sregs.cr4);
  sr->set_cr8(s.sregs.cr8);
  sr->set_efer(s.sregs.efer);
  sr->set_apic_base(s.sregs.apic_base);
  for (uint64_t w : s.sregs.interrupt_bitmap) sr->add_interrupt_bitmap(w);
  p.set_xsave(std::string(s.xsave.begin(), s.xsave.end()));
  for (const hv::Xcr& x : s.xcrs) (*p.mutable_xcrs())[x.index] = x.value;
  for (uint64_t db : s.debug.db) p.add_debug_registers(db);
  p.add_debug_registers(s.debug.dr6);
  p.add_debug_registers(s.debug.dr7);
  p.set_lapic(std::string(s.lapic.registers.begin(), s.lapic.registers.end()));
  for (const hv::MsrValue& m : s.msrs) {
    engine::v1::MsrValue* v = p.add_msrs();
    v->set_index(m.index);
    v->set_value(m.value);
  }
  engine::v1::VcpuEvents* e = p.mutable_events();
  e->set_exception_injected(s.events.exception.injected);
  e->set_exception_pending(s.events.exception.pending);
  e->set_exception_vector(s.events.exception.vector);
  e->set_exception_has_error_code(s.events.exception.has_error_code);
  e->set_exception_error_code(s.events.exception.error_code);
  e->set_exception_has_payload(s.events.exception.has_payload);
  e->set_exception_payload(s.events.exception.payload);
  e->set_interrupt_injected(s.events.interrupt.injected);
  e->set_interrupt_vector(s.events.interrupt.vector);
  e->set_interrupt_soft(s.events.interrupt.soft);
  e->set_interrupt_shadow(s.events.interrupt.shadow);
  e->set_nmi_injected(s.events.nmi.injected);
  e->set_nmi_pending(s.events.nmi.pending);
  e->set_nmi_masked(s.events.nmi.masked);
  e->set_sipi_vector(s.events.sipi_vector);
  e->set_smi_pending(s.events.smi_pending);
  e->set_in_smm(s.events.in_smm);
  e->set_triple_fault_pending(s.events.triple_fault_pending);
  p.set_sim_model(s.sim_model);
  return p;
}

absl::StatusOr<hv::VcpuState> DecodeVcpuState(const engine::v1::VcpuState& p) {
  hv::VcpuState s;
  const std::string where = absl::StrCat("vCPU ", p.id(), " state: ");
  s.id = p.id();
  s.cpuid = DecodeCpuid(p.cpuid());
  s.tsc_khz = p.tsc_khz();
  if (p.mp_state() > static_cast<uint32_t>(hv::MpState::kSipiReceived)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "unknown MP state ", p.mp_state()));
  }
  s.mp_state = static_cast<hv::MpState>(p.mp_state());
  const auto gprs = Gprs();
  if (p.regs().gprs_size() != static_cast<int>(gprs.size())) {
    return absl::InvalidArgumentError(absl::StrCat(where, p.regs().gprs_size(), " GPRs, not ", gprs.size()));
  }
  for (size_t i = 0; i < gprs.size(); ++i) s.regs.*gprs[i] = p.regs().gprs(static_cast<int>(i));
  s.regs.rip = p.regs().rip();
  s.regs.rflags = p.regs().rflags();
  const engine::v1::SpecialRegisters& sr = p.sregs();
  s.sregs.cs = DecodeSegment(sr.cs());
  s.sregs.ds = DecodeSegment(sr.ds());
  s.sregs.es = DecodeSegment(sr.es());
  s.sregs.fs = DecodeSegment(sr.fs());
  s.sregs.gs = DecodeSegment(sr.gs());
  s.sregs.ss = DecodeSegment(sr.ss());
  s.sregs.tr = DecodeSegment(sr.tr());
  s.sregs.ldt = DecodeSegment(sr.ldt());
  s.sregs.gdt = {sr.gdt().base(), static_cast<uint16_t>(sr.gdt().limit())};
  s.sregs.idt = {sr.idt().base(), static_cast<uint16_t>(sr.idt().limit())};
  s.sregs.cr0 = sr.cr0();
  s.sregs.cr2 = sr.cr2();
  s.sregs.cr3 = sr.cr3();
  s.sregs.cr4 = sr.cr4();
  s.sregs.cr8 = sr.cr8();
  s.sregs.efer = sr.efer();
  s.sregs.apic_base = sr.apic_base();
  if (sr.interrupt_bitmap_size() != static_cast<int>(s.sregs.interrupt_bitmap.size())) {
    return absl::InvalidArgumentError(absl::StrCat(where, "the interrupt bitmap has ", sr.interrupt_bitmap_size(),
                                                   " words, not ", s.sregs.interrupt_bitmap.size()));
  }
  std::copy(sr.interrupt_bitmap().begin(), sr.interrupt_bitmap().end(), s.sregs.interrupt_bitmap.begin());
  s.xsave.assign(p.xsave().begin(), p.xsave().end());
  for (const auto& [index, value] : p.xcrs()) s.xcrs.push_back({index, value});
  std::sort(s.xcrs.begin(), s.xcrs.end(), [](const hv::Xcr& a, const hv::Xcr& b) { return a.index < b.index; });
  if (p.debug_registers_size() != 6) {
    return absl::InvalidArgumentError(absl::StrCat(where, p.debug_registers_size(), " debug registers, not 6"));
  }
  for (int i = 0; i < 4; ++i) s.debug.db[i] = p.debug_registers(i);
  s.debug.dr6 = p.debug_registers(4);
  s.debug.dr7 = p.debug_registers(5);
  if (p.lapic().size() != s.lapic.registers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(where, "the LAPIC page has ", p.lapic().size(), " bytes, not ",
                                                   s.lapic.registers.size()));
  }
  std::copy(p.lapic().begin(), p.lapic().end(), s.lapic.registers.begin());
  for (const engine::v1::MsrValue& m : p.msrs()) s.msrs.push_back({m.index(), m.value()});
  const engine::v1::VcpuEvents& e = p.events();
  s.events.exception = {.injected = e.exception_injected(),
                        .pending = e.exception_pending(),
                        .vector = static_cast<uint8_t>(e.exception_vector()),
                        .has_error_code = e.exception_has_error_code(),
                        .error_code = e.exception_error_code(),
                        .has_payload = e.exception_has_payload(),
                        .payload = e.exception_payload()};
  s.events.interrupt = {.injected = e.interrupt_injected(),
                        .vector = static_cast<uint8_t>(e.interrupt_vector()),
                        .soft = e.interrupt_soft(),
                        .shadow = static_cast<uint8_t>(e.interrupt_shadow())};
  s.events.nmi = {.injected = e.nmi_injected(), .pending = e.nmi_pending(), .masked = e.nmi_masked()};
  s.events.sipi_vector = e.sipi_vector();
  s.events.smi_pending = e.smi_pending();
  s.events.in_smm = e.in_smm();
  s.events.triple_fault_pending = e.triple_fault_pending();
  s.sim_model = p.sim_model();
  return s;
}

engine::v1::VmState EncodeVmState(const hv::VmState& s) {
  engine::v1::VmState p;
  p.set_clock_ns(s.clock.ns);
  if (s.irqchip) {
    engine::v1::IrqchipState* chip = p.mutable_irqchip();
    *chip->mutable_pic_master() = EncodePic(s.irqchip->pic_master);
    *chip->mutable_pic_slave() = EncodePic(s.irqchip->pic_slave);
    engine::v1::IoapicState* io = chip->mutable_ioapic();
    io->set_base_address(s.irqchip->ioapic.base_address);
    io->set_ioregsel(s.irqchip->ioapic.ioregsel);
    io->set_id(s.irqchip->ioapic.id);
    io->set_irr(s.irqchip->ioapic.irr);
    for (uint64_t r : s.irqchip->ioapic.redirection) io->add_redirection(r);
  }
  for (const auto& [gsi, msi] : s.msi_routes) {
    engine::v1::MsiRoute& r = (*p.mutable_msi_routes())[gsi];
    r.set_address_lo(msi.address_lo);
    r.set_address_hi(msi.address_hi);
    r.set_data(msi.data);
  }
  if (s.msr_filter) {
    engine::v1::MsrFilter* f = p.mutable_msr_filter();
    f->set_default_deny(s.msr_filter->default_deny);
    f->set_exit_reasons(s.msr_filter->exit_reasons);
    for (const msr::MsrFilterRange& range : s.msr_filter->ranges) {
      engine::v1::MsrFilterRange* r = f->add_ranges();
      r->set_flags(range.flags);
      r->set_base(range.base);
      r->set_nmsrs(range.nmsrs);
      r->set_bitmap(std::string(range.bitmap.begin(), range.bitmap.end()));
    }
  }
  EncodeCpuid(s.base_cpuid, p.mutable_base_cpuid());
  return p;
}

absl::StatusOr<hv::VmState> DecodeVmState(const engine::v1::VmState& p) {
  hv::VmState s;
  s.clock.ns = p.clock_ns();
  if (p.has_irqchip()) {
    hv::IrqchipState chip;
    absl::StatusOr<hv::PicState> master = DecodePic(p.irqchip().pic_master());
    if (!master.ok()) return master.status();
    absl::StatusOr<hv::PicState> slave = DecodePic(p.irqchip().pic_slave());
    if (!slave.ok()) return slave.status();
    chip.pic_master = *master;
    chip.pic_slave = *slave;
    const engine::v1::IoapicState& io = p.irqchip().ioapic();
    if (io.redirection_size() != static_cast<int>(chip.ioapic.redirection.size())) {
      return absl::InvalidArgumentError(absl::StrCat("IOAPIC state has ", io.redirection_size(), " pins, not ",
                                                     chip.ioapic.redirection.size()));
    }
    chip.ioapic.base_address = io.base_address();
    chip.ioapic.ioregsel = io.ioregsel();
    chip.ioapic.id = io.id();
    chip.ioapic.irr = io.irr();
    std::copy(io.redirection().begin(), io.redirection().end(), chip.ioapic.redirection.begin());
    s.irqchip = chip;
  }
  for (const auto& [gsi, r] : p.msi_routes()) {
    s.msi_routes[gsi] = {.address_lo = r.address_lo(), .address_hi = r.address_hi(), .data = r.data()};
  }
  if (p.has_msr_filter()) {
    msr::MsrFilter f;
    f.default_deny = p.msr_filter().default_deny();
    f.exit_reasons = p.msr_filter().exit_reasons();
    for (const engine::v1::MsrFilterRange& r : p.msr_filter().ranges()) {
      f.ranges.push_back({.flags = r.flags(), .base = r.base(), .nmsrs = r.nmsrs(),
                          .bitmap = std::vector<uint8_t>(r.bitmap().begin(), r.bitmap().end())});
    }
    if (absl::Status v = msr::ValidateMsrFilter(f); !v.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("the saved MSR filter: ", v.message()));
    }
    s.msr_filter = std::move(f);
  }
  s.base_cpuid = DecodeCpuid(p.base_cpuid());
  return s;
}

}  // namespace vmd::snapshot

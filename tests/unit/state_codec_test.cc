// The snapshot codec: every field of the neutral vCPU and VM state survives
// the trip through vm_snapshot.proto, and bad files are refused by name.
#include "backend/snapshot/state_codec.h"

#include <gtest/gtest.h>

namespace vmd::snapshot {
namespace {

hv::VcpuState SampleVcpu() {
  hv::VcpuState s;
  s.id = 3;
  s.cpuid = {cpu::Leaf(0, 0xd, 1, 2, 3), cpu::Subleaf(7, 0, 4, 5, 6, 7)};
  s.tsc_khz = 2600000;
  s.mp_state = hv::MpState::kHalted;
  s.regs = {.rax = 1, .rbx = 2, .rcx = 3, .rdx = 4, .rsi = 5, .rdi = 6, .rsp = 7, .rbp = 8, .r8 = 9, .r9 = 10,
            .r10 = 11, .r11 = 12, .r12 = 13, .r13 = 14, .r14 = 15, .r15 = 16, .rip = 17, .rflags = 0x202};
  s.sregs.cs = {.base = 1, .limit = 2, .selector = 8, .type = 0xb, .dpl = 3, .present = true, .s = true, .l = true, .g = true};
  s.sregs.tr = {.base = 0x1000, .limit = 0x67, .selector = 0x18, .type = 0xb, .present = true, .unusable = false};
  s.sregs.ldt = {.type = 2, .unusable = true};
  s.sregs.gdt = {0x2000, 39};
  s.sregs.idt = {0x3000, 4095};
  s.sregs.cr0 = 0x80050033;
  s.sregs.cr3 = 0x10000;
  s.sregs.cr4 = 0x20;
  s.sregs.efer = 0x500;
  s.sregs.apic_base = 0xfee00d00;
  s.sregs.interrupt_bitmap = {0, 1, 0, 0};
  s.xsave.assign(4096, 0xab);
  s.xcrs = {{0, 7}};
  s.debug = {.db = {1, 2, 3, 4}, .dr6 = 0xffff0ff0, .dr7 = 0x400};
  s.lapic.registers[0x20] = 3;
  s.msrs = {{0x10, 12345}, {0x277, 0x0007040600070406}};
  s.events.exception = {.injected = true, .vector = 14, .has_error_code = true, .error_code = 2};
  s.events.interrupt = {.injected = true, .vector = 0x40, .shadow = 1};
  s.events.nmi = {.pending = true, .masked = true};
  s.events.sipi_vector = 9;
  s.sim_model = "{}";
  return s;
}

TEST(StateCodecTest, AVcpuStateRoundTrips) {
  const hv::VcpuState s = SampleVcpu();
  absl::StatusOr<hv::VcpuState> back = DecodeVcpuState(EncodeVcpuState(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, s.id);
  EXPECT_EQ(back->cpuid, s.cpuid);
  EXPECT_EQ(back->tsc_khz, s.tsc_khz);
  EXPECT_EQ(back->mp_state, s.mp_state);
  EXPECT_EQ(back->regs, s.regs);
  EXPECT_EQ(back->sregs, s.sregs);
  EXPECT_EQ(back->xsave, s.xsave);
  EXPECT_EQ(back->xcrs, s.xcrs);
  EXPECT_EQ(back->debug, s.debug);
  EXPECT_EQ(back->lapic, s.lapic);
  EXPECT_EQ(back->msrs, s.msrs);
  EXPECT_EQ(back->events, s.events);
  EXPECT_EQ(back->sim_model, s.sim_model);
}

TEST(StateCodecTest, AVmStateRoundTrips) {
  hv::VmState s;
  s.clock.ns = 987654321;
  hv::IrqchipState chip;
  chip.pic_master.imr = 0xfb;
  chip.pic_slave.irq_base = 0x70;
  chip.ioapic.id = 2;
  chip.ioapic.redirection[4] = 0x10030;
  s.irqchip = chip;
  s.msi_routes[24] = hv::FixedMsi(1, 0x50);
  msr::MsrFilter filter;
  filter.default_deny = true;
  filter.exit_reasons = msr::kMsrExitReasonFilter;
  filter.ranges.push_back({.flags = msr::kMsrFilterReadWrite, .base = 0x10, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0xff)});
  s.msr_filter = filter;
  s.base_cpuid = {cpu::Leaf(0, 1, 2, 3, 4)};
  absl::StatusOr<hv::VmState> back = DecodeVmState(EncodeVmState(s));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->clock, s.clock);
  ASSERT_TRUE(back->irqchip.has_value());
  EXPECT_EQ(*back->irqchip, chip);
  EXPECT_EQ(back->msi_routes, s.msi_routes);
  ASSERT_TRUE(back->msr_filter.has_value());
  EXPECT_EQ(back->msr_filter->default_deny, true);
  ASSERT_EQ(back->msr_filter->ranges.size(), 1u);
  EXPECT_EQ(back->msr_filter->ranges[0].bitmap, filter.ranges[0].bitmap);
  EXPECT_EQ(back->base_cpuid, s.base_cpuid);
  // Absent parts stay absent (a sim VM: no irqchip, no filter).
  absl::StatusOr<hv::VmState> empty = DecodeVmState(EncodeVmState(hv::VmState{}));
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->irqchip.has_value());
  EXPECT_FALSE(empty->msr_filter.has_value());
}

TEST(StateCodecTest, MalformedStatesAreRefusedByName) {
  engine::v1::VcpuState p = EncodeVcpuState(SampleVcpu());
  p.set_lapic("short");
  absl::StatusOr<hv::VcpuState> s = DecodeVcpuState(p);
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("LAPIC"), std::string::npos) << s.status();
  p = EncodeVcpuState(SampleVcpu());
  p.mutable_regs()->clear_gprs();
  EXPECT_EQ(DecodeVcpuState(p).status().code(), absl::StatusCode::kInvalidArgument);
  p = EncodeVcpuState(SampleVcpu());
  p.set_mp_state(99);
  EXPECT_EQ(DecodeVcpuState(p).status().code(), absl::StatusCode::kInvalidArgument);
  engine::v1::VmState vm;
  vm.mutable_msr_filter()->add_ranges()->set_nmsrs(100);  // no bitmap: KVM would refuse it
  EXPECT_EQ(DecodeVmState(vm).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vmd::snapshot

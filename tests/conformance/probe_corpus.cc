#include "tests/conformance/probe_corpus.h"

#include "tests/conformance/probe_ops.h"

namespace vmd::conformance {
namespace {

using K = Compare::Kind;

const Compare kExact{K::kExact, {}};
const Compare kOutcome{K::kOutcome, {}};

// MSR indexes.
constexpr uint32_t kTsc = 0x10, kApicBase = 0x1b, kCoreThreadCount = 0x35, kPat = 0x277;
constexpr uint32_t kEfer = 0xc0000080;
constexpr uint32_t kX2apicId = 0x802, kX2apicVersion = 0x803, kX2apicTpr = 0x808, kX2apicSelfIpi = 0x83f;

}  // namespace

std::vector<ProbeCase> Corpus() {
  return {
      // CPUID the engine programs (kvm_cpuid.cc BuildVcpuCpuid): leaf 1's
      // APIC id and logical count, x2APIC and hypervisor bits, HTT; the rest
      // of leaf 1 is the host's (or the profile's) CPU.
      {"cpuid.1.engine_fields",
       {Cpuid(1)},
       {{K::kMasked, {0, 0xffff0000, (1u << 21) | (1u << 31), 1u << 28}}}},
      // The topology leaf is entirely the engine's.
      {"cpuid.0xb.topology", {Cpuid(0xb, 0), Cpuid(0xb, 1), Cpuid(0xb, 2)}, {kExact, kExact, kExact}},
      // KVM's signature, "KVMKVMKVM\0\0\0".
      {"cpuid.0x40000000.signature", {Cpuid(0x40000000)}, {{K::kMasked, {0, ~0ull, ~0ull, ~0ull}}}},
      // Architectural MSRs as the firmware leaves them.
      {"msr.tsc.readable", {Rdmsr(kTsc)}, {kOutcome}},
      {"msr.apic_base.x2apic_bsp", {Rdmsr(kApicBase)}, {kExact}},
      {"msr.efer.long_mode", {Rdmsr(kEfer)}, {kExact}},
      {"msr.x2apic_id", {Rdmsr(kX2apicId)}, {kExact}},
      {"msr.pat.round_trip", {Wrmsr(kPat, 0x0007040600070406ull), Rdmsr(kPat)}, {kExact, kExact}},
      {"msr.tpr.round_trip", {Wrmsr(kX2apicTpr, 0x20), Rdmsr(kX2apicTpr), Wrmsr(kX2apicTpr, 0)},
       {kExact, kExact, kExact}},
      // #GP: an MSR KVM does not know, read and written.
      {"msr.unknown.gp", {Rdmsr(0x4b564dffu), Wrmsr(0x4b564dffu, 1)}, {kExact, kExact}},
      // MSR_CORE_THREAD_COUNT: KVM does not emulate it (seed 001's example of
      // an MSR user space should emulate).
      {"msr.core_thread_count.gp", {Rdmsr(kCoreThreadCount)}, {kExact}},
      // #GP on reserved bits: EFER bit 20, APIC_BASE bit 9; nothing changed.
      {"msr.reserved_bits.gp",
       {Wrmsr(kEfer, 0x500 | (1ull << 20)), Wrmsr(kApicBase, 0xfee00d00ull | (1ull << 9)), Rdmsr(kEfer),
        Rdmsr(kApicBase)},
       {kExact, kExact, kExact, kExact}},
      // Upstream KVM #GPs a PAT with a reserved memory type (kvm_pat_valid());
      // the sim models upstream. Some hosts' KVM (PVM-based, as on our CI
      // machine) accept it.
      {"msr.pat.reserved_type.gp", {Wrmsr(kPat, 0x0007040600070402ull), Rdmsr(kPat)}, {kExact, kExact},
       "this host's KVM may accept reserved PAT memory types that upstream KVM's kvm_pat_valid() rejects"},
      // x2APIC self IPI, taken by the guest's handler and counted.
      {"apic.self_ipi.delivered", {Wrmsr(kX2apicSelfIpi, 0x40), Wait(0x40, 1000000)}, {kExact, kExact}},
      {"apic.wait.timeout", {Wait(0x41, 20000)}, {kExact}},
      {"memory.write_read", {Write(0x400000, 8, 0x1122334455667788ull), Read(0x400004, 4), Read(0x400000, 1)},
       {kExact, kExact, kExact}},
      // The x2APIC version register: KVM returns 0x14 with its LVT count and
      // directed-EOI bit, which depend on the host kernel; the sim does not
      // model the register and #GPs.
      {"msr.x2apic_version", {Rdmsr(kX2apicVersion)}, {kExact},
       "the sim does not model the x2APIC version register (its value depends on the host kernel)"},
  };
}

}  // namespace vmd::conformance

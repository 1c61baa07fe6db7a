#include "backend/bench/raw_kvm_floor.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "absl/strings/str_cat.h"
#include "backend/guest/guest_abi.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/guest/firmware_loader.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_vcpu_state.h"
#include "backend/hypervisor/kvm/kvm_vm.h"
#include "backend/memory/guest_memory.h"

namespace vmd::engine::bench {
namespace {

using hv::kvm::Fd;
using hv::kvm::Ioctl;

constexpr uint64_t k2MiB = 2ull << 20;
constexpr uint64_t kCodeGpa = VMD_FIRMWARE_GPA;
constexpr uint64_t kSamplesGpa = VMD_BENCH_SAMPLES_GPA;

// Entered in long mode with RDI = sample buffer, RSI = iterations, R9 = time
// budget in TSC cycles (> 0). Reports the samples written with an out32 to
// VMD_PORT_PROBE_DONE, then halts.
//
//   0: rdtsc                      13: rdtsc                 <- timed window
//   2: shl $32,%rdx               15: mov %eax,%r8d          |
//   6: or %rax,%rdx               18: out %al,$0xfa          |
//   9: add %rdx,%r9   (deadline)  1a: rdtsc                 <-
//   c: xor %ecx,%ecx              1c: mov %eax,%r10d
//   e: test %rsi,%rsi             1f: sub %r8d,%r10d
//  11: je 3a                      22: mov %r10d,(%rdi,%rcx,4)
//                                 26: inc %rcx
//                                 29: shl $32,%rdx
//                                 2d: or %rax,%rdx
//                                 30: cmp %rsi,%rcx
//                                 33: jae 3a
//                                 35: cmp %r9,%rdx
//                                 38: jb 13
//  3a: mov %ecx,%eax
//  3c: out %eax,$0xf8
//  3e: hlt
//  3f: jmp 3e
constexpr uint8_t kFloorCode[] = {
    0x0f, 0x31, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xc2, 0x49, 0x01, 0xd1, 0x31,
    0xc9, 0x48, 0x85, 0xf6, 0x74, 0x27, 0x0f, 0x31, 0x41, 0x89, 0xc0, 0xe6, 0xfa,
    0x0f, 0x31, 0x41, 0x89, 0xc2, 0x45, 0x29, 0xc2, 0x44, 0x89, 0x14, 0x8f, 0x48,
    0xff, 0xc1, 0x48, 0xc1, 0xe2, 0x20, 0x48, 0x09, 0xc2, 0x48, 0x39, 0xf1, 0x73,
    0x05, 0x4c, 0x39, 0xca, 0x72, 0xd9, 0x89, 0xc8, 0xe7, 0xf8, 0xf4, 0xeb, 0xfd,
};
static_assert(kFloorCode[0x18] == 0xe6 && kFloorCode[0x19] == VMD_PORT_BENCH_PIO,
              "the floor loop writes the bench PIO port");
static_assert(kFloorCode[0x3c] == 0xe7 && kFloorCode[0x3d] == VMD_PORT_PROBE_DONE,
              "the floor loop reports on the probe-done port");

// The kvm_run area of a vCPU, unmapped on destruction.
class RunArea {
 public:
  RunArea(void* address, size_t size) : address_(address), size_(size) {}
  ~RunArea() { munmap(address_, size_); }
  RunArea(const RunArea&) = delete;
  RunArea& operator=(const RunArea&) = delete;
  kvm_run* get() const { return static_cast<kvm_run*>(address_); }

 private:
  void* address_;
  size_t size_;
};

}  // namespace

absl::StatusOr<FloorSamples> RunRawKvmFloor(uint64_t iterations, std::chrono::milliseconds budget) {
  iterations = std::min<uint64_t>(iterations, VMD_BENCH_MAX_ITERATIONS);
  absl::StatusOr<Fd> kvm = hv::kvm::OpenKvmDevice();
  if (!kvm.ok()) return kvm.status();
  const uint64_t memory_bytes =
      std::max<uint64_t>((kSamplesGpa + iterations * sizeof(uint32_t) + k2MiB - 1) / k2MiB * k2MiB,
                         uint64_t{VMD_MIN_MEMORY_MIB} << 20);
  absl::StatusOr<Fd> vm = hv::kvm::CreateConfiguredVm(kvm->get());
  if (!vm.ok()) return vm.status();
  absl::StatusOr<std::unique_ptr<hv::GuestMemory>> memory = hv::GuestMemory::Create({{0, memory_bytes}});
  if (!memory.ok()) return memory.status();
  kvm_userspace_memory_region region{};
  region.slot = 0;
  region.guest_phys_addr = 0;
  region.memory_size = memory_bytes;
  region.userspace_addr = reinterpret_cast<uint64_t>((*memory)->regions()[0].host);
  if (absl::Status s =
          Ioctl(vm->get(), KVM_SET_USER_MEMORY_REGION, "KVM_SET_USER_MEMORY_REGION", &region)
              .status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s = guest::WriteLongModeTables(**memory); !s.ok()) return s;
  std::span<uint8_t> code = (*memory)->Slice(kCodeGpa, sizeof(kFloorCode));
  std::memcpy(code.data(), kFloorCode, sizeof(kFloorCode));

  absl::StatusOr<int> vcpu_fd = Ioctl(vm->get(), KVM_CREATE_VCPU, "KVM_CREATE_VCPU", 0ul);
  if (!vcpu_fd.ok()) return vcpu_fd.status();
  Fd vcpu(*vcpu_fd);
  absl::StatusOr<cpu::CpuidTable> supported = hv::kvm::GetSupportedCpuid(kvm->get());
  if (!supported.ok()) return supported.status();
  if (absl::Status s = hv::kvm::SetVcpuCpuid(vcpu.get(), cpu::BuildVcpuCpuid(*supported, {.vcpu_id = 0, .vcpus = 1}));
      !s.ok()) {
    return s;
  }
  const hv::BootEntry entry = guest::LongModeEntry(0, kCodeGpa);
  kvm_sregs sregs{};
  if (absl::Status s = Ioctl(vcpu.get(), KVM_GET_SREGS, "KVM_GET_SREGS", &sregs).status();
      !s.ok()) {
    return s;
  }
  const uint64_t apic_base = sregs.apic_base;
  hv::kvm::ToKvm(entry.sregs, sregs);
  sregs.apic_base = apic_base;
  if (absl::Status s = Ioctl(vcpu.get(), KVM_SET_SREGS, "KVM_SET_SREGS", &sregs).status();
      !s.ok()) {
    return s;
  }
  absl::StatusOr<int> khz = Ioctl(vcpu.get(), KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  if (!khz.ok()) return khz.status();
  if (*khz <= 0) return absl::InternalError("KVM_GET_TSC_KHZ returned 0 for the floor vCPU");
  kvm_regs regs = hv::kvm::ToKvm(entry.regs);
  regs.rdi = kSamplesGpa;
  regs.rsi = iterations;
  regs.r9 =
      std::max<uint64_t>(1, static_cast<uint64_t>(budget.count()) * static_cast<uint64_t>(*khz));
  if (absl::Status s = Ioctl(vcpu.get(), KVM_SET_REGS, "KVM_SET_REGS", &regs).status(); !s.ok()) {
    return s;
  }
  absl::StatusOr<int> run_size =
      Ioctl(kvm->get(), KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
  if (!run_size.ok()) return run_size.status();
  void* mapped = mmap(nullptr, static_cast<size_t>(*run_size), PROT_READ | PROT_WRITE, MAP_SHARED,
                      vcpu.get(), 0);
  if (mapped == MAP_FAILED) return absl::ErrnoToStatus(errno, "mmap of the floor vCPU's kvm_run");
  RunArea area(mapped, static_cast<size_t>(*run_size));
  kvm_run* const run = area.get();

  // The floor itself: straight back into KVM_RUN on every PIO exit.
  const int fd = vcpu.get();
  for (;;) {
    if (ioctl(fd, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return hv::kvm::IoctlError("KVM_RUN (floor VM)", errno);
    }
    if (run->exit_reason != KVM_EXIT_IO) break;
    if (run->io.port == VMD_PORT_PROBE_DONE) break;
  }

  if (run->exit_reason != KVM_EXIT_IO || run->io.port != VMD_PORT_PROBE_DONE || run->io.size != 4) {
    return absl::InternalError(absl::StrCat("the floor VM stopped with KVM exit reason ",
                                            run->exit_reason, " instead of reporting its samples"));
  }
  uint32_t done = 0;
  std::memcpy(&done, reinterpret_cast<const uint8_t*>(run) + run->io.data_offset, sizeof(done));
  if (done > iterations) {
    return absl::InternalError(
        absl::StrCat("the floor VM reported ", done, " samples of ", iterations));
  }
  FloorSamples result;
  result.tsc_khz = static_cast<uint64_t>(*khz);
  std::span<const uint8_t> samples =
      (*memory)->Slice(kSamplesGpa, uint64_t{done} * sizeof(uint32_t));
  result.cycles.resize(done);
  if (done > 0) std::memcpy(result.cycles.data(), samples.data(), samples.size());
  return result;
}

}  // namespace vmd::engine::bench

// The hypervisor interface: Hypervisor -> Vm -> Vcpu, after Cloud
// Hypervisor's `hypervisor` crate. Two implementations: `kvm` (real ioctls on
// /dev/kvm) and `sim` (a software model of a KVM host). The engine drives
// either one identically through this interface alone -- no backend is ever
// reached by a cast: it calls Vcpu::Run() and handles the exits, exactly as a
// VMM handles KVM_RUN exits.
#ifndef VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_
#define VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/cpu/kvm_host_report.h"
#include "backend/hypervisor/msi.h"
#include "backend/hypervisor/vcpu_state.h"
#include "backend/hypervisor/vm_state.h"
#include "backend/memory/dirty_bitmap.h"
#include "backend/msr/msr_filter.h"

namespace vmd::hv {

class GuestMemory;

enum class BackendKind { kKvm, kSim };
const char* BackendName(BackendKind kind);

// The sim profile made from this host's KVM (cpu::HostProfileFromKvm).
inline constexpr char kSimHostProfile[] = "host";

struct VmConfig {
  uint32_t vcpus = 1;
  // sim only: the host profile to model (backend/cpu/host_profiles.h).
  std::string sim_profile;
  // Every vCPU's CPUID (cpu::BuildVcpuCpuid): the guest PMU's leaves, and
  // another vendor than the host's (kvm only).
  cpu::CpuidOptions cpuid;
};

// Why Vcpu::Run() returned. Mirrors the KVM_EXIT_* reasons the engine handles.
enum class ExitKind {
  kIoIn,           // guest IN: fill `data`, then Vcpu::CompleteIoIn
  kIoOut,          // guest OUT: `data` holds what it wrote
  kMmioRead,       // guest load from `address` outside RAM: CompleteMmioRead
  kMmioWrite,      // guest store to `address` outside RAM: `data` holds it
  kMsrRead,        // user-space RDMSR: answer via Vcpu::CompleteMsr
  kMsrWrite,       // user-space WRMSR: msr_data holds the value
  kInterrupted,    // Kick() took the vCPU out of the guest
  kShutdown,       // triple fault / KVM_EXIT_SHUTDOWN
  kInternalError,  // KVM_EXIT_INTERNAL_ERROR, FAIL_ENTRY, unknown exit
};
const char* ExitKindName(ExitKind kind);

struct VcpuExit {
  ExitKind kind = ExitKind::kInterrupted;
  // Port I/O exits.
  uint16_t port = 0;
  // MMIO exits: the guest-physical address.
  uint64_t address = 0;
  // I/O and MMIO exits: the access's bytes; valid until the next Run.
  std::span<uint8_t> data;
  // MSR exits.
  uint32_t msr_index = 0;
  uint64_t msr_data = 0;
  uint32_t msr_reason = 0;  // msr::kMsrExitReason{Filter,Unknown,Inval}
  // kShutdown / kInternalError: what happened, in words.
  std::string reason;
};

class Vcpu {
 public:
  virtual ~Vcpu() = default;
  virtual uint32_t id() const = 0;

  // Runs the vCPU until an exit the engine must handle. Only this vCPU's
  // thread calls it.
  virtual absl::StatusOr<VcpuExit> Run() = 0;

  // Complete the exit Run() returned, before the next Run().
  virtual void CompleteIoIn(std::span<const uint8_t> data) = 0;
  virtual void CompleteMmioRead(std::span<const uint8_t> data) = 0;
  // kMsrRead/kMsrWrite: the value read, or a #GP.
  virtual void CompleteMsr(uint64_t value, bool inject_gp) = 0;

  // Thread-safe. Makes the Run() in progress return kInterrupted promptly;
  // if none is in progress, the next Run() returns kInterrupted at once. A
  // kick is never lost (KVM: immediate_exit plus a signal).
  virtual void Kick() = 0;

  // A new vCPU has CPUID but no entry state: either this (a boot: the
  // registers and runnable MP state the firmware expects) or RestoreState.
  virtual absl::Status SetBootEntry(const BootEntry& entry) = 0;

  // The guest TSC frequency, kHz.
  virtual absl::StatusOr<uint64_t> TscKhz() = 0;

  // The whole vCPU state / its restore. Only while the vCPU is outside
  // Run() (paused), and on kvm with every vCPU of the VM outside it: the
  // kernel's pending events and LAPIC read each other.
  virtual absl::StatusOr<VcpuState> SaveState() = 0;
  virtual absl::Status RestoreState(const VcpuState& state) = 0;

  // One 32-bit register of the local APIC's page (offset 0x10 * n, e.g.
  // 0x340 the performance-counter LVT), from the vCPU's own thread while it
  // is outside Run().
  virtual absl::StatusOr<uint32_t> ReadLapicRegister(uint32_t offset) = 0;

  // The general and system registers, for crash reports.
  virtual std::string DumpRegisters() = 0;
};

// An eventfd that KVM signals on a guest write (KVM_IOEVENTFD): the write
// completes in the kernel without an exit to the engine.
struct IoEventfd {
  enum class Space { kPio, kMmio };
  Space space = Space::kMmio;
  uint64_t address = 0;
  uint32_t length = 4;  // 0 (MMIO only: any length), 1, 2, 4 or 8
  std::optional<uint64_t> datamatch;  // only writes of this value signal
  int eventfd = -1;
};

class Vm {
 public:
  virtual ~Vm() = default;
  virtual BackendKind kind() const = 0;

  // Maps every region of `memory` into the VM. Once; the memory outlives
  // the VM.
  virtual absl::Status MapMemory(GuestMemory& memory) = 0;
  // Dirty-page logging of guest writes (KVM_MEM_LOG_DIRTY_PAGES).
  // TakeDirtyLog returns the pages written since logging started or since
  // the last call, and clears them (KVM_GET_DIRTY_LOG). Writes the engine
  // makes itself are not logged, as on KVM.
  virtual absl::Status SetDirtyLogging(bool enabled) = 0;
  virtual absl::StatusOr<DirtyBitmap> TakeDirtyLog() = 0;

  // Creates vCPU `id` (0 .. vcpus-1) with its CPUID; then SetBootEntry or
  // RestoreState on it.
  virtual absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) = 0;

  // Interrupts. An MSI no APIC accepts is dropped without an error, as on
  // the APIC bus.
  virtual absl::Status SignalMsi(const MsiMessage& msi) = 0;
  // GSI routes (KVM_SET_GSI_ROUTING): AddMsiRoute picks a free GSI above
  // the irqchip's pins and returns it.
  virtual absl::StatusOr<uint32_t> AddMsiRoute(const MsiMessage& msi) = 0;
  virtual absl::Status RemoveMsiRoute(uint32_t gsi) = 0;
  // Binds `eventfd` to `gsi` (KVM_IRQFD): writing it raises the GSI in the
  // kernel. With `resample_eventfd` >= 0 (KVM_IRQFD_FLAG_RESAMPLE) the GSI
  // is level-triggered: the kernel signals the resample eventfd when the
  // guest EOIs it, for the device to re-assert if still pending.
  virtual absl::Status AssignIrqfd(uint32_t gsi, int eventfd, int resample_eventfd = -1) = 0;
  virtual absl::Status DeassignIrqfd(uint32_t gsi, int eventfd) = 0;
  virtual absl::Status AssignIoeventfd(const IoEventfd& ioeventfd) = 0;
  virtual absl::Status DeassignIoeventfd(const IoEventfd& ioeventfd) = 0;

  // Installs an MSR filter (KVM_X86_SET_MSR_FILTER semantics, seed 001):
  // accesses it denies exit as kMsrRead/kMsrWrite instead of raising #GP, as
  // do accesses to MSRs KVM does not know when the filter's exit_reasons
  // include UNKNOWN. Atomic for each vCPU, also while vCPUs run.
  virtual absl::Status SetMsrFilter(const msr::MsrFilter& filter) = 0;

  // The VM-wide state; every vCPU outside Run(). RestoreState before the
  // vCPUs' RestoreState (the clock, routes and filter they run under).
  virtual absl::StatusOr<VmState> SaveState() = 0;
  virtual absl::Status RestoreState(const VmState& state) = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  virtual BackendKind kind() const = 0;
  virtual absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) = 0;
  // Most vCPUs one VM may have on this backend.
  virtual uint32_t MaxVcpus() const = 0;
  // What KVM answers before any VM: supported CPUID, MSR index lists,
  // feature MSRs (kvm: this host's /dev/kvm; sim: its model of such a host).
  virtual const cpu::KvmHostReport& HostReport() const = 0;
};

// Whether a backend can run VMs on this host; `reason` names what is missing.
struct BackendAvailability {
  BackendKind kind;
  bool usable = false;
  std::string reason;
  uint32_t max_vcpus = 0;
};
std::vector<BackendAvailability> ProbeBackends();

// Opens a backend. An unusable backend is FAILED_PRECONDITION with the reason.
// The sim profile "host" is made from this host's KVM (FAILED_PRECONDITION
// where kvm cannot be opened).
absl::StatusOr<std::unique_ptr<Hypervisor>> OpenHypervisor(BackendKind kind,
                                                           const std::string& sim_profile);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_

// The hypervisor interface: Hypervisor -> Vm -> Vcpu, after Cloud
// Hypervisor's `hypervisor` crate. Two implementations: `kvm` (real ioctls on
// /dev/kvm) and `sim` (a software model of a KVM host). The engine's vCPU loop
// (vm_runner) drives either one identically: it calls Vcpu::Run() and handles
// the exits, exactly as a VMM handles KVM_RUN exits.
#ifndef VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_
#define VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "backend/msr/msr_filter.h"

namespace vmd::hv {

class GuestMemory;

enum class BackendKind { kKvm, kSim };
const char* BackendName(BackendKind kind);

struct VmConfig {
  uint32_t vcpus = 1;
  uint64_t memory_bytes = 0;
  // sim only: the host profile to model (see sim_profiles.h).
  std::string sim_profile;
};

// Why Vcpu::Run() returned. Mirrors the KVM_EXIT_* reasons the engine handles.
enum class ExitKind {
  kIoIn,           // guest IN: fill io_data via Vcpu::CompleteIoIn
  kIoOut,          // guest OUT: io_data holds what it wrote
  kMsrRead,        // user-space RDMSR: answer via Vcpu::CompleteMsr
  kMsrWrite,       // user-space WRMSR: msr_data holds the value
  kInterrupted,    // Kick() took the vCPU out of the guest
  kShutdown,       // triple fault / KVM_EXIT_SHUTDOWN
  kInternalError,  // KVM_EXIT_INTERNAL_ERROR, FAIL_ENTRY, unknown exit
};
const char* ExitKindName(ExitKind kind);

struct VcpuExit {
  ExitKind kind = ExitKind::kInterrupted;
  // I/O exits.
  uint16_t port = 0;
  std::span<uint8_t> io_data;  // access width bytes; valid until the next Run
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

  // Completes a kIoIn exit with the bytes the guest reads; before next Run.
  virtual void CompleteIoIn(std::span<const uint8_t> data) = 0;
  // Completes a kMsrRead/kMsrWrite exit: the value read, or a #GP.
  virtual void CompleteMsr(uint64_t value, bool inject_gp) = 0;

  // Thread-safe. Makes the Run() in progress return kInterrupted promptly;
  // if none is in progress, the next Run() returns kInterrupted at once. A
  // kick is never lost (KVM: immediate_exit plus a signal).
  virtual void Kick() = 0;

  // The general and system registers, for crash reports.
  virtual std::string DumpRegisters() = 0;
};

class Vm {
 public:
  virtual ~Vm() = default;

  // Maps guest memory (memfd-backed) into the VM at guest-physical 0.
  virtual absl::Status SetGuestMemory(GuestMemory& memory) = 0;
  // Loads the guest firmware and its entry state. The engine has written the
  // boot info (guest_abi.h) into guest memory before.
  virtual absl::Status LoadGuest(GuestMemory& memory) = 0;
  virtual absl::StatusOr<std::unique_ptr<Vcpu>> CreateVcpu(uint32_t id) = 0;

  // Delivers a fixed-mode MSI to an x2APIC id, like KVM_SIGNAL_MSI.
  virtual absl::Status SignalMsi(uint32_t dest_apic_id, uint8_t vector) = 0;

  // Installs an MSR filter (KVM_X86_SET_MSR_FILTER semantics, seed 001):
  // accesses it denies exit as kMsrRead/kMsrWrite instead of raising #GP, as
  // do accesses to MSRs KVM does not know when the filter's exit_reasons
  // include UNKNOWN. Atomic for each vCPU, also while vCPUs run.
  virtual absl::Status SetMsrFilter(const msr::MsrFilter& filter) = 0;
};

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;
  virtual BackendKind kind() const = 0;
  virtual absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) = 0;
  // Most vCPUs one VM may have on this backend.
  virtual uint32_t MaxVcpus() const = 0;
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
absl::StatusOr<std::unique_ptr<Hypervisor>> OpenHypervisor(BackendKind kind,
                                                           const std::string& sim_profile);

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_HYPERVISOR_H_

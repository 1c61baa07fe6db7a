#include "backend/hypervisor/hypervisor.h"

#include "absl/strings/str_cat.h"

#include "backend/hypervisor/kvm/kvm_hypervisor.h"
#include "backend/hypervisor/sim/sim_hypervisor.h"

namespace vmd::hv {

const char* BackendName(BackendKind kind) {
  return kind == BackendKind::kKvm ? "kvm" : "sim";
}

const char* ExitKindName(ExitKind kind) {
  switch (kind) {
    case ExitKind::kIoIn: return "io-in";
    case ExitKind::kIoOut: return "io-out";
    case ExitKind::kMmioRead: return "mmio-read";
    case ExitKind::kMmioWrite: return "mmio-write";
    case ExitKind::kMsrRead: return "msr-read";
    case ExitKind::kMsrWrite: return "msr-write";
    case ExitKind::kInterrupted: return "interrupted";
    case ExitKind::kShutdown: return "shutdown";
    case ExitKind::kInternalError: return "internal-error";
  }
  return "unknown";
}

std::vector<BackendAvailability> ProbeBackends() {
  return {ProbeKvm(), ProbeSim()};
}

absl::StatusOr<std::unique_ptr<Hypervisor>> OpenHypervisor(BackendKind kind,
                                                           const std::string& sim_profile) {
  if (kind == BackendKind::kKvm) return OpenKvm();
  if (sim_profile == kSimHostProfile) {
    absl::StatusOr<std::unique_ptr<Hypervisor>> kvm = OpenKvm();
    if (!kvm.ok()) {
      return absl::FailedPreconditionError(absl::StrCat("sim profile \"host\" is made from this host's KVM, which ",
                                                        "cannot be opened: ", kvm.status().message()));
    }
    return OpenSim(cpu::HostProfileFromKvm((*kvm)->HostReport()));
  }
  return OpenSim(sim_profile);
}

}  // namespace vmd::hv

#include "backend/hypervisor/kvm/kvm_hypervisor.h"

#include <fcntl.h>
#include <linux/kvm.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "backend/hypervisor/kvm/kvm_capabilities.h"
#include "backend/hypervisor/kvm/kvm_cpuid.h"
#include "backend/hypervisor/kvm/kvm_fd.h"
#include "backend/hypervisor/kvm/kvm_vm.h"
#include "backend/hypervisor/kvm/kvm_vcpu_state.h"

namespace vmd::hv {
namespace {

using kvm::Fd;

// What OpenKvm needs from a successful check.
struct KvmHost {
  Fd kvm_fd;
  uint32_t max_vcpus = 0;
  size_t run_size = 0;
};

// The checks of ProbeKvm; the error message is the "reason". The host probe
// also sets up and drops a whole VM; OpenKvm skips that, since the engine
// creates the real VM right after and would report the same failure.
absl::StatusOr<KvmHost> CheckKvm(bool create_test_vm) {
  absl::StatusOr<Fd> kvm_fd = kvm::OpenKvmDevice();
  if (!kvm_fd.ok()) return kvm_fd.status();
  const int fd = kvm_fd->get();

  absl::StatusOr<int> version = kvm::Ioctl(fd, KVM_GET_API_VERSION, "KVM_GET_API_VERSION");
  if (!version.ok()) return version.status();
  if (*version != kvm::kKvmApiVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "KVM API version ", *version, " is not the supported ", kvm::kKvmApiVersion));
  }
  if (std::vector<std::string> missing = kvm::MissingCapabilities(fd); !missing.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("missing KVM capabilities: ", absl::StrJoin(missing, ", ")));
  }
  absl::StatusOr<int> run_size =
      kvm::Ioctl(fd, KVM_GET_VCPU_MMAP_SIZE, "KVM_GET_VCPU_MMAP_SIZE");
  if (!run_size.ok()) return run_size.status();
  if (static_cast<size_t>(*run_size) < sizeof(kvm_run)) {
    return absl::FailedPreconditionError(
        absl::StrCat("KVM_GET_VCPU_MMAP_SIZE is ", *run_size, ", smaller than struct kvm_run"));
  }
  if (create_test_vm) {
    absl::StatusOr<Fd> vm = kvm::CreateConfiguredVm(fd);
    if (!vm.ok()) {
      return absl::Status(vm.status().code(),
                          absl::StrCat("cannot set up a VM: ", vm.status().message()));
    }
  }
  KvmHost host;
  host.max_vcpus = kvm::MaxVcpus(fd);
  host.run_size = static_cast<size_t>(*run_size);
  host.kvm_fd = *std::move(kvm_fd);
  return host;
}

// KVM_GET_SUPPORTED_CPUID, the MSR index lists and the feature MSRs'
// values (KVM_GET_MSRS on /dev/kvm).
// Older uapi headers may lack them (../shared/REFERENCE.md "vPMU").
constexpr int kKvmCapPmuEventFilter = 173;
constexpr int kKvmCapPmuCapability = 212;

absl::StatusOr<cpu::KvmHostReport> ReadHostReport(int kvm_fd) {
  cpu::KvmHostReport r;
  absl::StatusOr<cpu::CpuidTable> cpuid = kvm::GetSupportedCpuid(kvm_fd);
  if (!cpuid.ok()) return cpuid.status();
  r.supported_cpuid = *std::move(cpuid);
  absl::StatusOr<std::vector<uint32_t>> msrs = kvm::GetMsrIndexList(kvm_fd);
  if (!msrs.ok()) return msrs.status();
  r.msr_index_list = *std::move(msrs);
  absl::StatusOr<std::vector<uint32_t>> features = kvm::GetMsrFeatureIndexList(kvm_fd);
  if (!features.ok()) return features.status();
  r.feature_msr_index_list = *std::move(features);
  absl::StatusOr<std::vector<MsrValue>> values = kvm::GetMsrs(kvm_fd, r.feature_msr_index_list);
  if (!values.ok()) return values.status();
  for (const MsrValue& v : *values) r.feature_msrs[v.index] = v.value;
  // Not required: absent (0) on a kernel without them.
  r.pmu_capability = static_cast<uint32_t>(std::max(0, kvm::CheckExtension(kvm_fd, kKvmCapPmuCapability)));
  r.pmu_event_filter = kvm::CheckExtension(kvm_fd, kKvmCapPmuEventFilter) > 0;
  return r;
}

// The TSC frequency a VM gets, from a throwaway VM: ~25 ms under nested KVM,
// so only when the report is asked for, never on an engine's start path.
uint64_t ReadVmTscKhz(int kvm_fd) {
  absl::StatusOr<Fd> vm = kvm::CreateConfiguredVm(kvm_fd);
  if (!vm.ok()) return 0;
  absl::StatusOr<int> khz = kvm::Ioctl(vm->get(), KVM_GET_TSC_KHZ, "KVM_GET_TSC_KHZ");
  return khz.ok() ? static_cast<uint64_t>(*khz) : 0;
}

class KvmHypervisor : public Hypervisor {
 public:
  KvmHypervisor(KvmHost host, cpu::KvmHostReport report)
      : host_(std::move(host)),
        report_(std::move(report)),
        msr_index_list_(std::make_shared<const std::vector<uint32_t>>(report_.msr_index_list)) {}

  BackendKind kind() const override { return BackendKind::kKvm; }
  uint32_t MaxVcpus() const override { return host_.max_vcpus; }
  const cpu::KvmHostReport& HostReport() const override {
    std::call_once(tsc_once_, [this] { report_.tsc_khz = ReadVmTscKhz(host_.kvm_fd.get()); });
    return report_;
  }

  absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) override {
    if (config.vcpus == 0 || config.vcpus > host_.max_vcpus) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vcpus ", config.vcpus, " is out of range: KVM here allows 1 to ", host_.max_vcpus));
    }
    int dup_fd = fcntl(host_.kvm_fd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return absl::ErrnoToStatus(errno, "dup of the /dev/kvm fd");
    kvm::KvmVm::Host vm_host{Fd(dup_fd), report_.supported_cpuid, host_.run_size, msr_index_list_};
    absl::StatusOr<std::unique_ptr<kvm::KvmVm>> vm =
        kvm::KvmVm::Create(std::move(vm_host), config);
    if (!vm.ok()) return vm.status();
    return std::unique_ptr<Vm>(*std::move(vm));
  }

 private:
  const KvmHost host_;
  mutable cpu::KvmHostReport report_;  // tsc_khz filled on first HostReport()
  mutable std::once_flag tsc_once_;
  const std::shared_ptr<const std::vector<uint32_t>> msr_index_list_;
};

}  // namespace

BackendAvailability ProbeKvm() {
  BackendAvailability availability;
  availability.kind = BackendKind::kKvm;
  absl::StatusOr<KvmHost> host = CheckKvm(/*create_test_vm=*/true);
  if (!host.ok()) {
    availability.reason = std::string(host.status().message());
    return availability;
  }
  availability.usable = true;
  availability.max_vcpus = host->max_vcpus;
  return availability;
}

absl::StatusOr<std::unique_ptr<Hypervisor>> OpenKvm() {
  absl::StatusOr<KvmHost> host = CheckKvm(/*create_test_vm=*/false);
  if (!host.ok()) return absl::FailedPreconditionError(host.status().message());
  absl::StatusOr<cpu::KvmHostReport> report = ReadHostReport(host->kvm_fd.get());
  if (!report.ok()) return report.status();
  report->max_vcpus = host->max_vcpus;
  return std::make_unique<KvmHypervisor>(*std::move(host), *std::move(report));
}

}  // namespace vmd::hv

#include "backend/hypervisor/kvm/kvm_hypervisor.h"

#include <fcntl.h>
#include <linux/kvm.h>

#include <cerrno>

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

class KvmHypervisor : public Hypervisor {
 public:
  KvmHypervisor(KvmHost host, cpu::CpuidTable supported_cpuid, std::vector<uint32_t> msr_index_list)
      : host_(std::move(host)),
        supported_cpuid_(std::move(supported_cpuid)),
        msr_index_list_(std::make_shared<const std::vector<uint32_t>>(std::move(msr_index_list))) {}

  BackendKind kind() const override { return BackendKind::kKvm; }
  uint32_t MaxVcpus() const override { return host_.max_vcpus; }

  absl::StatusOr<std::unique_ptr<Vm>> CreateVm(const VmConfig& config) override {
    if (config.vcpus == 0 || config.vcpus > host_.max_vcpus) {
      return absl::InvalidArgumentError(absl::StrCat(
          "vcpus ", config.vcpus, " is out of range: KVM here allows 1 to ", host_.max_vcpus));
    }
    int dup_fd = fcntl(host_.kvm_fd.get(), F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0) return absl::ErrnoToStatus(errno, "dup of the /dev/kvm fd");
    kvm::KvmVm::Host vm_host{Fd(dup_fd), supported_cpuid_, host_.run_size, msr_index_list_};
    absl::StatusOr<std::unique_ptr<kvm::KvmVm>> vm =
        kvm::KvmVm::Create(std::move(vm_host), config);
    if (!vm.ok()) return vm.status();
    return std::unique_ptr<Vm>(*std::move(vm));
  }

 private:
  const KvmHost host_;
  const cpu::CpuidTable supported_cpuid_;
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
  absl::StatusOr<cpu::CpuidTable> cpuid = kvm::GetSupportedCpuid(host->kvm_fd.get());
  if (!cpuid.ok()) return cpuid.status();
  absl::StatusOr<std::vector<uint32_t>> msrs = kvm::GetMsrIndexList(host->kvm_fd.get());
  if (!msrs.ok()) return msrs.status();
  return std::make_unique<KvmHypervisor>(*std::move(host), *std::move(cpuid), *std::move(msrs));
}

}  // namespace vmd::hv

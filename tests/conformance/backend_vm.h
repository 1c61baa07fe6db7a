// A probe-workload VM on one backend, driven in-process through the engine's
// own vCPU loop (VmRunner), for the conformance suites.
#ifndef VMD_TESTS_CONFORMANCE_BACKEND_VM_H_
#define VMD_TESTS_CONFORMANCE_BACKEND_VM_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/engine/vm_runner.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::conformance {

class BackendVm {
 public:
  // `kind` is "sim", "kvm" or "sim:PROFILE"; check status() before use.
  // `edit` may change the engine config before the VM is built.
  explicit BackendVm(const std::string& kind, uint32_t vcpus = 2,
                     const std::function<void(engine::EngineConfig&)>& edit = {});
  ~BackendVm();
  const absl::Status& status() const { return status_; }
  engine::VmRunner& runner() { return *runner_; }
  absl::StatusOr<vmd::v1::RunProbeResponse> Run(const std::vector<vmd::v1::ProbeOp>& ops);

 private:
  std::string dir_;
  absl::Status status_;
  std::unique_ptr<engine::VmRunner> runner_;
};

// Whether kvm can run here, and why not.
bool KvmUsable(std::string* reason);

// {sim_kind} and, where kvm is usable, "kvm": printing that the test runs on
// real KVM, or why `suite` skips it.
std::vector<std::string> SimAndKvm(const std::string& sim_kind, const std::string& suite);

}  // namespace vmd::conformance

#endif  // VMD_TESTS_CONFORMANCE_BACKEND_VM_H_

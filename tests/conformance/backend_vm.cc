#include "tests/conformance/backend_vm.h"

#include <filesystem>
#include <iostream>

#include "backend/hypervisor/hypervisor.h"
#include "tests/engine_test_config.h"

namespace vmd::conformance {

BackendVm::BackendVm(const std::string& kind, uint32_t vcpus,
                     const std::function<void(engine::EngineConfig&)>& edit) {
  char tmpl[] = "/tmp/vmd-conf-XXXXXX";
  dir_ = mkdtemp(tmpl);
  const size_t colon = kind.find(':');
  engine::EngineConfig config = testing::TestEngineConfig(kind.substr(0, colon), "probe", dir_, vcpus, /*memory_mib=*/64);
  if (colon != std::string::npos) config.set_sim_profile(kind.substr(colon + 1));
  if (edit) edit(config);
  auto runner = engine::VmRunner::Create(config);
  status_ = runner.status();
  if (runner.ok()) {
    runner_ = *std::move(runner);
    status_ = runner_->Start();
  }
}

BackendVm::~BackendVm() {
  if (runner_) (void)runner_->Stop(std::chrono::milliseconds(0), /*force=*/true);
  runner_.reset();
  std::filesystem::remove_all(dir_);
}

absl::StatusOr<vmd::v1::RunProbeResponse> BackendVm::Run(const std::vector<vmd::v1::ProbeOp>& ops) {
  vmd::v1::RunProbeRequest req;
  for (const vmd::v1::ProbeOp& op : ops) *req.add_ops() = op;
  return runner_->RunProbe(req);
}

std::vector<std::string> SimAndKvm(const std::string& sim_kind, const std::string& suite) {
  std::vector<std::string> kinds = {sim_kind};
  std::string why;
  if (KvmUsable(&why)) {
    kinds.push_back("kvm");
    std::cout << "[kvm] ran on real KVM" << std::endl;
  } else {
    std::cout << "[" << suite << "] kvm skipped: " << why << std::endl;
  }
  return kinds;
}

bool KvmUsable(std::string* reason) {
  for (const hv::BackendAvailability& b : hv::ProbeBackends()) {
    if (b.kind == hv::BackendKind::kKvm) {
      *reason = b.reason;
      return b.usable;
    }
  }
  *reason = "no kvm backend";
  return false;
}

}  // namespace vmd::conformance

// The engine's own vPMU (PMU_LAYER_ENGINE, and the sim's model of KVM's
// in-kernel one): the virtual PMU register model (backend/pmu) behind the
// MSR exit router, counting each vCPU's run time as cycles. Every PMU MSR
// is claimed, so KVM never answers one itself (KVM checks the MSR filter
// before its own MSR handling, ../shared/REFERENCE.md).
#ifndef VMD_BACKEND_ENGINE_ENGINE_VPMU_H_
#define VMD_BACKEND_ENGINE_ENGINE_VPMU_H_

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "backend/pmu/virtual_pmu.h"
#include "backend/vcpu/msr_exit_router.h"
#include "vmd/v1/pmu.pb.h"

namespace vmd::engine {

// Nanoseconds each vCPU has spent inside Run() (guest time, including what
// the kernel spends halted for it), as cycles at the guest TSC rate.
class VcpuRunClock final : public pmu::PmuClock {
 public:
  VcpuRunClock(uint32_t vcpus, uint64_t tsc_khz);
  // Around each Vcpu::Run(), on the vCPU's own thread.
  void Enter(uint32_t vcpu);
  void Leave(uint32_t vcpu);
  uint64_t CoreCycles(uint32_t vcpu) override;
  uint64_t RefCycles(uint32_t vcpu) override { return CoreCycles(vcpu); }

 private:
  struct Slot {
    std::atomic<int64_t> run_ns{0};
    std::atomic<int64_t> entered_ns{0};  // 0: outside Run()
  };
  const uint64_t tsc_khz_;
  std::unique_ptr<Slot[]> slots_;
  const uint32_t vcpus_;
};

// Thread-safe: each vCPU's registers have a lock of their own, taken by
// its MSR exits and by the overflow watch.
class EngineVpmu final : public MsrClaimHandler {
 public:
  EngineVpmu(const vmd::v1::GuestPmu& guest, uint32_t vcpus, uint64_t tsc_khz);
  ~EngineVpmu() override;

  // Claims every PMU MSR for this vPMU.
  absl::Status Attach(MsrExitRouter& router);
  // Starts the overflow watch: counters overflow while the guest runs, with
  // no exit to notice it, so every `period` each vCPU's counters are looked
  // at and a vCPU with a PMI due is kicked out of Run() (`kick`).
  void WatchOverflows(std::chrono::microseconds period, std::function<void(uint32_t vcpu)> kick);
  // On `vcpu`'s thread, outside Run(): whether a PMI is due for it (it is
  // then taken).
  bool TakePmi(uint32_t vcpu);

  msr::MsrAccessResult ReadMsr(uint32_t vcpu, uint32_t index) override;
  msr::MsrAccessResult WriteMsr(uint32_t vcpu, uint32_t index, uint64_t value) override;

  VcpuRunClock& clock() { return clock_; }
  // A vCPU's registers for a snapshot, and their restore (host-initiated).
  std::map<uint32_t, uint64_t> Save(uint32_t vcpu);
  void Restore(uint32_t vcpu, const std::map<uint32_t, uint64_t>& msrs);

 private:
  struct VcpuSlot {
    std::mutex mu;
    bool pmi_due = false;  // guarded by mu
  };
  const uint32_t vcpus_;
  VcpuRunClock clock_;
  pmu::VirtualPmu pmu_;
  std::unique_ptr<VcpuSlot[]> slots_;
  std::atomic<bool> stop_{false};
  std::thread watch_;
};

// The register model's shape for a grant's guest PMU.
pmu::VirtualPmuShape ShapeOf(const vmd::v1::GuestPmu& guest);

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_ENGINE_VPMU_H_

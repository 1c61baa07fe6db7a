// Test harness for the hypervisor interface: boots the firmware on a backend
// (kvm by default, or sim) and runs each vCPU on its own thread with a tiny
// device model (COM1 transmit + line status, the power port), the way the
// engine does; can move a stopped VM's whole state into a new VM.
#ifndef VMD_TESTS_KVM_KVM_TEST_VM_H_
#define VMD_TESTS_KVM_KVM_TEST_VM_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/memory/guest_memory.h"

namespace vmd::hv::testing {

// Skips the test unless KVM is usable here; otherwise prints the line the
// suite counts ("[kvm] ran on real KVM").
#define VMD_REQUIRE_KVM()                                                    \
  do {                                                                       \
    const ::vmd::hv::BackendAvailability& kvm_ = ::vmd::hv::testing::Kvm(); \
    if (!kvm_.usable) GTEST_SKIP() << "KVM is not usable: " << kvm_.reason;  \
    ::vmd::hv::testing::AnnounceRealKvm();                                   \
  } while (0)

// ProbeKvm(), once per process.
const BackendAvailability& Kvm();
void AnnounceRealKvm();

struct TestVmOptions {
  BackendKind backend = BackendKind::kKvm;
  uint32_t vcpus = 1;
  uint32_t workload = VMD_WORKLOAD_IDLE;
  uint32_t heartbeat_ms = 0;
  uint64_t memory_bytes = 32ull << 20;
  uint32_t boot_magic = VMD_BOOT_INFO_MAGIC;
};

// Options for `workload` on `vcpus` vCPUs.
TestVmOptions Options(uint32_t workload, uint32_t vcpus = 1, uint32_t heartbeat_ms = 0);

class TestVm {
 public:
  // Creates the VM, writes the boot info, loads the firmware and creates the
  // vCPUs; nothing runs until Start().
  static absl::StatusOr<std::unique_ptr<TestVm>> Create(const TestVmOptions& options);
  ~TestVm();

  // Stops this VM, saves its VM and vCPU states, and restores them into a
  // new VM of the same backend over the same guest memory (this one stays
  // stopped). The new VM runs on from where this one was once started.
  absl::StatusOr<std::unique_ptr<TestVm>> MoveStateToNewVm();

  GuestMemory& memory() { return *memory_; }
  Vm& vm() { return *vm_; }
  Vcpu& vcpu(uint32_t id) { return *vcpus_[id]; }

  // How the vCPU threads answer kMsrRead/kMsrWrite exits: the value read and
  // whether to inject #GP. The default injects #GP, like the engine without an
  // MSR policy. Set before Start().
  struct MsrAnswer {
    uint64_t value = 0;
    bool inject_gp = true;
  };
  using MsrHandler = std::function<MsrAnswer(uint32_t vcpu, const VcpuExit& exit)>;
  void set_msr_handler(MsrHandler handler) { msr_handler_ = std::move(handler); }

  // Starts one thread per vCPU.
  void Start();
  // Kicks every vCPU out and joins the threads. Idempotent.
  void Stop();

  // Waits until `done` holds (polled), up to `timeout`.
  bool WaitFor(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10));
  bool WaitForConsole(const std::string& text, absl::Duration timeout = absl::Seconds(10));

  std::string console() const;
  std::optional<uint8_t> power_off_code() const;
  // The last sequence the probe workload reported on VMD_PORT_PROBE_DONE.
  uint32_t probe_done() const;
  uint64_t interrupted_exits() const { return interrupted_.load(); }

  struct Crash {
    uint32_t vcpu;
    ExitKind kind;
    std::string reason;
    std::string registers;
  };
  std::vector<Crash> crashes() const;
  std::vector<std::string> errors() const;  // Run() failures, unexpected exits

  // Volatile snapshots of the guest-written pages.
  vmd_guest_status status() const;
  vmd_guest_diag diag() const;
  uint64_t boot_tsc_khz() const;

 private:
  TestVm() = default;
  void VcpuLoop(uint32_t id);

  TestVmOptions options_;
  std::shared_ptr<Hypervisor> hypervisor_;
  std::shared_ptr<GuestMemory> memory_;
  std::unique_ptr<Vm> vm_;
  std::vector<std::unique_ptr<Vcpu>> vcpus_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> interrupted_{0};
  MsrHandler msr_handler_;

  mutable absl::Mutex mu_;
  std::string console_ ABSL_GUARDED_BY(mu_);
  std::optional<uint8_t> power_off_code_ ABSL_GUARDED_BY(mu_);
  uint32_t probe_done_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<Crash> crashes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> errors_ ABSL_GUARDED_BY(mu_);
};

// Copies a guest-written struct with volatile byte reads.
template <typename T>
T VolatileCopy(const GuestMemory& memory, uint64_t gpa) {
  T value;
  const volatile uint8_t* src = memory.Slice(gpa, sizeof(T)).data();
  auto* dst = reinterpret_cast<uint8_t*>(&value);
  for (size_t i = 0; i < sizeof(T); ++i) dst[i] = src[i];
  return value;
}

}  // namespace vmd::hv::testing

#endif  // VMD_TESTS_KVM_KVM_TEST_VM_H_

// The engine's guest-bench device on VMD_PORT_BENCH (guest_abi.h), on the
// VM's device bus like any other device, so the bench's PIO round trips go
// through the engine's whole vCPU loop:
//   VMD_PORT_BENCH_PIO  a null port: writes are dropped, reads give 0;
//   VMD_PORT_BENCH_MSI  while the MSI bench is armed, a write signals its
//                       irqfd eventfd (KVM injects the MSI), otherwise dropped.
#ifndef VMD_BACKEND_BENCH_BENCH_DEVICE_H_
#define VMD_BACKEND_BENCH_BENCH_DEVICE_H_

#include <cstdint>
#include <mutex>
#include <span>

#include "backend/devices/device.h"

namespace vmd::engine::bench {

class BenchDevice final : public Device {
 public:
  static constexpr uint16_t kPorts = 2;  // VMD_PORT_BENCH_COUNT

  absl::string_view key() const override { return "guest-bench"; }
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  void Read(uint64_t offset, std::span<uint8_t> data) override;

  // Writes to VMD_PORT_BENCH_MSI signal `eventfd` until Disarm(). The caller
  // keeps the eventfd open until then.
  void ArmMsi(int eventfd);
  void DisarmMsi();
  // MSI requests the guest made while armed.
  uint64_t msi_requests() const;

  // Held for a whole bench run: one at a time per VM.
  std::mutex& session() { return session_mu_; }

 private:
  std::mutex session_mu_;
  mutable std::mutex mu_;  // orders a signal against Disarm and the close after it
  int eventfd_ = -1;
  uint64_t msi_requests_ = 0;
};

}  // namespace vmd::engine::bench

#endif  // VMD_BACKEND_BENCH_BENCH_DEVICE_H_

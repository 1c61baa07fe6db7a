// The engine's end of the probe mailbox (guest_abi.h): it writes a program
// of ops into the mailbox page, raises VMD_VECTOR_PROBE on vCPU 0, and waits
// for the guest to report the program's sequence on VMD_PORT_PROBE_DONE --
// a device on the bus like any other.
#ifndef VMD_BACKEND_ENGINE_PROBE_MAILBOX_H_
#define VMD_BACKEND_ENGINE_PROBE_MAILBOX_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "backend/devices/device.h"
#include "backend/guest/guest_abi.h"
#include "backend/hypervisor/hypervisor.h"
#include "backend/memory/guest_memory.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::engine {

class ProbeMailbox final : public Device {
 public:
  // The next program's sequence follows the one in the mailbox page, so a
  // restored VM goes on numbering where it was.
  ProbeMailbox(hv::GuestMemory& memory, hv::Vm& vm);

  absl::string_view key() const override { return "probe-mailbox"; }
  // VMD_PORT_PROBE_DONE: out32 of the sequence just finished.
  void Write(uint64_t offset, std::span<const uint8_t> data) override;
  void Read(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), 0); }

  // Whether the VM runs; a program waiting when it stops running is ABORTED
  // (`state` names what it became), and none starts until it runs again.
  void SetRunning(bool running, const std::string& state);

  // Runs mailbox ops as they are (the engine-internal VMD_PROBE_BENCH_*
  // kinds included) on vCPU 0 and returns them with the guest's results.
  // One program at a time.
  absl::StatusOr<std::vector<vmd_probe_op>> Run(std::span<const vmd_probe_op> ops, std::chrono::milliseconds timeout);
  // A probe program of the API: validated, encoded, run, decoded.
  absl::StatusOr<vmd::v1::RunProbeResponse> RunProbe(const vmd::v1::RunProbeRequest& request);

 private:
  hv::GuestMemory& memory_;
  hv::Vm& vm_;
  vmd_probe_mailbox* const mailbox_;
  std::mutex run_mu_;  // one program at a time
  std::mutex mu_;
  std::condition_variable cv_;
  bool running_ = false;        // guarded by mu_
  std::string state_ = "created";  // guarded by mu_
  uint32_t sequence_ = 0;       // guarded by run_mu_
  uint32_t done_ = 0;           // guarded by mu_
};

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_PROBE_MAILBOX_H_

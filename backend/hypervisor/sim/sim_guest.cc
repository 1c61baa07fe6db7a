#include "backend/hypervisor/sim/sim_guest.h"

#include <atomic>

#include "absl/strings/str_cat.h"

namespace vmd::hv {
namespace {

const char* WorkloadName(uint32_t workload) {
  switch (workload) {
    case VMD_WORKLOAD_IDLE: return "idle";
    case VMD_WORKLOAD_COUNTER: return "counter";
  }
  return "unknown";
}

}  // namespace

SimGuest::SimGuest(uint32_t vcpu_id, const vmd_boot_info& boot, vmd_guest_status* status)
    : vcpu_id_(vcpu_id), boot_(boot), status_(status) {}

void SimGuest::Print(const std::string& line) { console_.insert(console_.end(), line.begin(), line.end()); }

SimGuest::Step SimGuest::Next() {
  // Application processors park, as the firmware's do.
  if (vcpu_id_ != 0) return {Step::Kind::kWaitInterrupt};
  if (!booted_) {
    booted_ = true;
    Print(absl::StrCat("vmd firmware: ", WorkloadName(boot_.workload), " on ", boot_.vcpus,
                       " vcpu(s)\n"));
  }
  if (!console_.empty()) {
    uint8_t byte = console_.front();
    console_.pop_front();
    return {Step::Kind::kOut, VMD_PORT_COM1, byte};
  }
  if (powered_off_) return {Step::Kind::kWaitInterrupt};
  if (power_off_requested_) {
    powered_off_ = true;
    return {Step::Kind::kOut, VMD_PORT_POWER, 0};
  }
  if (boot_.workload == VMD_WORKLOAD_COUNTER) return {Step::Kind::kWaitTick};
  return {Step::Kind::kWaitInterrupt};
}

void SimGuest::OnTick() {
  if (boot_.workload != VMD_WORKLOAD_COUNTER || vcpu_id_ != 0 || powered_off_) return;
  std::atomic_ref<uint64_t> counter(status_->counter);
  uint64_t value = counter.fetch_add(1, std::memory_order_relaxed) + 1;
  uint64_t period = std::max<uint64_t>(1, boot_.heartbeat_ms / kTick.count());
  if (++ticks_since_heartbeat_ >= period) {
    ticks_since_heartbeat_ = 0;
    std::atomic_ref<uint64_t> heartbeats(status_->heartbeats);
    uint64_t n = heartbeats.fetch_add(1, std::memory_order_relaxed) + 1;
    Print(absl::StrCat("heartbeat ", n, " counter=", value, "\n"));
  }
}

void SimGuest::OnInterrupt(uint8_t vector) {
  if (vector == VMD_VECTOR_SHUTDOWN && vcpu_id_ == 0 && !power_off_requested_) {
    power_off_requested_ = true;
    Print(VMD_CONSOLE_POWER_OFF_LINE);
  }
}

}  // namespace vmd::hv

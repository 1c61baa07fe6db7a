// The sim's irqfds: a thread that waits on every bound eventfd (epoll) and,
// when one is written, consumes its count and raises its GSI -- what the
// kernel's irqfd wakeup does for KVM_IRQFD.
#ifndef VMD_BACKEND_HYPERVISOR_SIM_SIM_IRQFD_POLLER_H_
#define VMD_BACKEND_HYPERVISOR_SIM_SIM_IRQFD_POLLER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "absl/status/status.h"

namespace vmd::hv {

class SimIrqfdPoller {
 public:
  // Called on the poller's thread for each signal of a bound eventfd.
  using RaiseGsi = std::function<void(uint32_t gsi)>;
  explicit SimIrqfdPoller(RaiseGsi raise) : raise_(std::move(raise)) {}
  // Stops the thread; bound eventfds stay open (they are the caller's).
  ~SimIrqfdPoller();

  // ALREADY_EXISTS when `eventfd` is bound already (as KVM_IRQFD's EBUSY).
  absl::Status Bind(int eventfd, uint32_t gsi);
  // NOT_FOUND when (`eventfd`, `gsi`) is not bound.
  absl::Status Unbind(int eventfd, uint32_t gsi);

 private:
  absl::Status StartLocked();
  void Loop();

  const RaiseGsi raise_;
  std::mutex mu_;
  std::map<int, uint32_t> bound_;  // eventfd -> GSI
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread thread_;
};

}  // namespace vmd::hv

#endif  // VMD_BACKEND_HYPERVISOR_SIM_SIM_IRQFD_POLLER_H_

#include "backend/hypervisor/sim/sim_irqfd_poller.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace vmd::hv {
namespace {

// epoll data of the wake-up eventfd; every other entry carries an eventfd.
constexpr uint64_t kWakeToken = ~uint64_t{0};

}  // namespace

SimIrqfdPoller::~SimIrqfdPoller() {
  if (!thread_.joinable()) return;
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  thread_.join();
  close(wake_fd_);
  close(epoll_fd_);
}

absl::Status SimIrqfdPoller::StartLocked() {
  if (thread_.joinable()) return absl::OkStatus();
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return absl::ErrnoToStatus(errno, "sim irqfds: epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return absl::ErrnoToStatus(errno, "sim irqfds: eventfd");
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = kWakeToken}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) return absl::ErrnoToStatus(errno, "sim irqfds: epoll_ctl");
  thread_ = std::thread(&SimIrqfdPoller::Loop, this);
  return absl::OkStatus();
}

absl::Status SimIrqfdPoller::Bind(int eventfd, uint32_t gsi) {
  std::lock_guard lock(mu_);
  if (bound_.contains(eventfd)) {
    return absl::AlreadyExistsError(absl::StrCat("eventfd ", eventfd, " is already an irqfd"));
  }
  if (absl::Status s = StartLocked(); !s.ok()) return s;
  epoll_event ev{.events = EPOLLIN, .data = {.u64 = static_cast<uint64_t>(eventfd)}};
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, eventfd, &ev) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("sim irqfds: epoll_ctl of eventfd ", eventfd));
  }
  bound_[eventfd] = gsi;
  return absl::OkStatus();
}

absl::Status SimIrqfdPoller::Unbind(int eventfd, uint32_t gsi) {
  std::lock_guard lock(mu_);
  auto it = bound_.find(eventfd);
  if (it == bound_.end() || it->second != gsi) {
    return absl::NotFoundError(absl::StrCat("eventfd ", eventfd, " is not an irqfd of GSI ", gsi));
  }
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, eventfd, nullptr);
  bound_.erase(it);
  return absl::OkStatus();
}

void SimIrqfdPoller::Loop() {
  for (;;) {
    epoll_event events[16];
    const int n = epoll_wait(epoll_fd_, events, 16, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeToken) return;
      const int fd = static_cast<int>(events[i].data.u64);
      uint32_t gsi = 0;
      {
        std::lock_guard lock(mu_);
        auto it = bound_.find(fd);
        if (it == bound_.end()) continue;  // unbound meanwhile
        gsi = it->second;
        uint64_t count = 0;
        if (read(fd, &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count))) continue;
      }
      // One interrupt for any count: an edge, however many writes made it.
      raise_(gsi);
    }
  }
}

}  // namespace vmd::hv

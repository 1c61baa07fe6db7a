#include "daemon/api/dir_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <thread>

namespace vmd::daemon {

DirWatch::DirWatch(const std::string& dir) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ >= 0 && inotify_add_watch(fd_, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0) {
    close(fd_);
    fd_ = -1;
  }
}

DirWatch::~DirWatch() {
  if (fd_ >= 0) close(fd_);
}

void DirWatch::Wait(std::chrono::milliseconds timeout) {
  if (fd_ < 0) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  pollfd p{.fd = fd_, .events = POLLIN};
  if (poll(&p, 1, static_cast<int>(timeout.count())) > 0) {
    char events[4096];
    while (read(fd_, events, sizeof(events)) > 0) {
    }  // drain: one wake-up covers them all
  }
}

}  // namespace vmd::daemon

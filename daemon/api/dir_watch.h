// Wakes a follower when files in a directory change (inotify), so a followed
// console stream forwards new output at once instead of on a polling tick.
#ifndef VMD_DAEMON_API_DIR_WATCH_H_
#define VMD_DAEMON_API_DIR_WATCH_H_

#include <chrono>
#include <string>

namespace vmd::daemon {

class DirWatch {
 public:
  // Watches `dir` for files created or written. If inotify is unavailable,
  // Wait() degrades to sleeping for its timeout.
  explicit DirWatch(const std::string& dir);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // Blocks until something changed or `timeout` passed.
  void Wait(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_DIR_WATCH_H_

// Wakes a follower when files in a directory change, so a followed console
// stream forwards new output at once instead of on a polling tick. All
// watches of the daemon share one inotify instance (root's 128 instances are
// shared by every process on the host) read by one thread; where inotify is
// unavailable the daemon logs it once and followers poll.
#ifndef VMD_DAEMON_API_DIR_WATCH_H_
#define VMD_DAEMON_API_DIR_WATCH_H_

#include <chrono>
#include <memory>
#include <string>

namespace vmd::daemon {

class DirWatch {
 public:
  // Watches `dir` for files created or written.
  explicit DirWatch(const std::string& dir);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // Blocks until something changed since the last Wait (or since the watch
  // began), or `timeout` passed.
  void Wait(std::chrono::milliseconds timeout);
  // Whether changes wake it (false: it polls).
  bool notified() const { return entry_ != nullptr; }

  struct Entry;

 private:
  std::shared_ptr<Entry> entry_;  // null: polling
  uint64_t seen_ = 0;             // the entry's generation at the last Wait
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_DIR_WATCH_H_

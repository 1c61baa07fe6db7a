// Tells a follower when files in a directory change, so a followed console
// stream forwards new output at once instead of on a polling tick. All
// watches of the daemon share one inotify instance (root's 128 instances are
// shared by every process on the host) read by one thread; where inotify is
// unavailable the daemon logs it once and followers poll.
#ifndef VMD_DAEMON_API_DIR_WATCH_H_
#define VMD_DAEMON_API_DIR_WATCH_H_

#include <functional>
#include <memory>
#include <string>

namespace vmd::daemon {

class DirWatch {
 public:
  // Calls `on_change` when files in `dir` are created or written, on the
  // inotify thread: it must be quick (a stream just schedules itself). Once
  // the watch is destroyed, it is called no more.
  DirWatch(const std::string& dir, std::function<void()> on_change);
  ~DirWatch();
  DirWatch(const DirWatch&) = delete;
  DirWatch& operator=(const DirWatch&) = delete;

  // Whether changes are told (false: the follower must poll).
  bool notified() const { return entry_ != nullptr; }

  struct Entry;

 private:
  std::shared_ptr<Entry> entry_;  // null: polling
  uint64_t id_ = 0;               // this watch's callback in the entry
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_DIR_WATCH_H_

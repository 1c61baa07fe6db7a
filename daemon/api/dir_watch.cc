#include "daemon/api/dir_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

namespace vmd::daemon {

// One watched directory, shared by its followers: a generation that counts
// changes, and the condition they wait on.
struct DirWatch::Entry {
  std::string dir;
  int wd = -1;
  int users = 0;
  uint64_t generation = 0;
  std::condition_variable changed;
};

namespace {

class InotifyHub {
 public:
  static InotifyHub& Get() {
    static InotifyHub* hub = new InotifyHub();  // lives as long as the process
    return *hub;
  }

  // The entry of `dir`, or null when inotify cannot watch it.
  std::shared_ptr<DirWatch::Entry> Watch(const std::string& dir) {
    std::lock_guard lock(mu_);
    if (fd_ < 0) return nullptr;
    for (auto& [wd, entry] : entries_) {
      if (entry->dir == dir) {
        ++entry->users;
        return entry;
      }
    }
    const int wd = inotify_add_watch(fd_, dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO);
    if (wd < 0) {
      WarnOnce(std::string("inotify_add_watch: ") + std::strerror(errno));
      return nullptr;
    }
    auto entry = std::make_shared<DirWatch::Entry>();
    entry->dir = dir;
    entry->wd = wd;
    entry->users = 1;
    entries_[wd] = entry;
    return entry;
  }

  void Unwatch(const std::shared_ptr<DirWatch::Entry>& entry) {
    std::lock_guard lock(mu_);
    if (--entry->users > 0) return;
    inotify_rm_watch(fd_, entry->wd);
    entries_.erase(entry->wd);
  }

  // Waits for `entry` to pass generation `*seen`, up to `timeout`.
  void Wait(DirWatch::Entry& entry, uint64_t* seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    entry.changed.wait_for(lock, timeout, [&] { return entry.generation != *seen; });
    *seen = entry.generation;
  }

  uint64_t Generation(const DirWatch::Entry& entry) {
    std::lock_guard lock(mu_);
    return entry.generation;
  }

 private:
  InotifyHub() {
    fd_ = inotify_init1(IN_CLOEXEC);
    if (fd_ < 0) {
      WarnOnce(std::string("inotify_init1: ") + std::strerror(errno));
      return;
    }
    std::thread(&InotifyHub::Loop, this).detach();
  }

  void WarnOnce(const std::string& why) {
    if (warned_) return;
    warned_ = true;
    std::cerr << "vmd: warning: " << why << "; console streams that follow will poll every 200 ms\n";
  }

  void Loop() {
    alignas(inotify_event) char buf[16 * 1024];
    for (;;) {
      const ssize_t n = read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      std::lock_guard lock(mu_);
      for (ssize_t off = 0; off < n;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buf + off);
        if (auto it = entries_.find(event->wd); it != entries_.end()) {
          ++it->second->generation;
          it->second->changed.notify_all();
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }

  std::mutex mu_;
  int fd_ = -1;
  bool warned_ = false;
  std::map<int, std::shared_ptr<DirWatch::Entry>> entries_;  // by watch descriptor
};

}  // namespace

DirWatch::DirWatch(const std::string& dir) : entry_(InotifyHub::Get().Watch(dir)) {
  if (entry_) seen_ = InotifyHub::Get().Generation(*entry_);
}

DirWatch::~DirWatch() {
  if (entry_) InotifyHub::Get().Unwatch(entry_);
}

void DirWatch::Wait(std::chrono::milliseconds timeout) {
  if (!entry_) {
    std::this_thread::sleep_for(timeout);
    return;
  }
  InotifyHub::Get().Wait(*entry_, &seen_, timeout);
}

}  // namespace vmd::daemon

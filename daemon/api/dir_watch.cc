#include "daemon/api/dir_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>
#include <functional>

namespace vmd::daemon {

// One watched directory, shared by its followers' callbacks.
struct DirWatch::Entry {
  std::string dir;
  int wd = -1;
  std::map<uint64_t, std::function<void()>> followers;
};

namespace {

class InotifyHub {
 public:
  static InotifyHub& Get() {
    static InotifyHub* hub = new InotifyHub();  // lives as long as the process
    return *hub;
  }

  // The entry of `dir` with `on_change` added as follower `*id`, or null
  // when inotify cannot watch it.
  std::shared_ptr<DirWatch::Entry> Watch(const std::string& dir, std::function<void()> on_change, uint64_t* id) {
    std::lock_guard lock(mu_);
    if (fd_ < 0) return nullptr;
    *id = next_id_++;
    for (auto& [wd, entry] : entries_) {
      if (entry->dir == dir) {
        entry->followers[*id] = std::move(on_change);
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
    entry->followers[*id] = std::move(on_change);
    entries_[wd] = entry;
    return entry;
  }

  // Callbacks run under mu_: once this returns, `id`'s runs no more.
  void Unwatch(const std::shared_ptr<DirWatch::Entry>& entry, uint64_t id) {
    std::lock_guard lock(mu_);
    entry->followers.erase(id);
    if (!entry->followers.empty()) return;
    inotify_rm_watch(fd_, entry->wd);
    entries_.erase(entry->wd);
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
          for (auto& [id, on_change] : it->second->followers) on_change();
        }
        off += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
  }

  std::mutex mu_;
  int fd_ = -1;
  bool warned_ = false;
  std::map<int, std::shared_ptr<DirWatch::Entry>> entries_;  // by watch descriptor
  uint64_t next_id_ = 1;
};

}  // namespace

DirWatch::DirWatch(const std::string& dir, std::function<void()> on_change) {
  // In the body: id_'s initializer would overwrite what Watch stores in it.
  entry_ = InotifyHub::Get().Watch(dir, std::move(on_change), &id_);
}

DirWatch::~DirWatch() {
  if (entry_) InotifyHub::Get().Unwatch(entry_, id_);
}

}  // namespace vmd::daemon

// Console follow wake-ups: every watch shares one inotify instance, a write
// calls every follower of its directory, and a destroyed watch is called no
// more.
#include "daemon/api/dir_watch.h"

#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <vector>

#include <gtest/gtest.h>

namespace vmd::daemon {
namespace {

int InotifyInstances() {
  int n = 0;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(fd.path(), ec).string() == "anon_inode:inotify") ++n;
  }
  return n;
}

TEST(DirWatchTest, AllWatchesShareOneInotifyInstance) {
  const std::string a = ::testing::TempDir() + "/dirwatch-a", b = ::testing::TempDir() + "/dirwatch-b";
  std::filesystem::create_directories(a);
  std::filesystem::create_directories(b);
  std::vector<std::unique_ptr<DirWatch>> watches;
  for (int i = 0; i < 20; ++i) watches.push_back(std::make_unique<DirWatch>(i % 2 ? a : b, [] {}));
  ASSERT_TRUE(watches.front()->notified()) << "inotify is unavailable here";
  EXPECT_EQ(InotifyInstances(), 1);
}

TEST(DirWatchTest, AWriteCallsEveryFollowerUntilItsWatchIsGone) {
  const std::string dir = ::testing::TempDir() + "/dirwatch-w";
  std::filesystem::create_directories(dir);
  // The file exists before the watches, so each write below is one event.
  std::ofstream(dir + "/console.log", std::ios::trunc).flush();
  std::mutex mu;
  std::condition_variable cv;
  int first = 0;
  std::atomic<int> second = 0;
  // Called in the order they watch: `other` before `watch`.
  auto other = std::make_unique<DirWatch>(dir, [&] { ++second; });
  DirWatch watch(dir, [&] {
    std::lock_guard lock(mu);
    ++first;
    cv.notify_all();
  });
  ASSERT_TRUE(watch.notified());
  std::ofstream(dir + "/console.log", std::ios::app) << "line\n";
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return first > 0; })) << "no call for a write";
  }
  EXPECT_GT(second.load(), 0) << "both followers of the directory are called";
  other.reset();
  const int second_before = second.load();
  const int first_before = first;
  std::ofstream(dir + "/console.log", std::ios::app) << "more\n";
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return first > first_before; }));
  }
  EXPECT_EQ(second.load(), second_before) << "a destroyed watch is not called";
}

}  // namespace
}  // namespace vmd::daemon

// Console follow wake-ups: every watch shares one inotify instance, and a
// write wakes a waiting follower at once.
#include "daemon/api/dir_watch.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>
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
  for (int i = 0; i < 20; ++i) watches.push_back(std::make_unique<DirWatch>(i % 2 ? a : b));
  ASSERT_TRUE(watches.front()->notified()) << "inotify is unavailable here";
  EXPECT_EQ(InotifyInstances(), 1);
}

TEST(DirWatchTest, AWriteWakesAWaitingFollower) {
  const std::string dir = ::testing::TempDir() + "/dirwatch-w";
  std::filesystem::create_directories(dir);
  DirWatch watch(dir);
  ASSERT_TRUE(watch.notified());
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::ofstream(dir + "/console.log", std::ios::app) << "line\n";
  });
  const auto start = std::chrono::steady_clock::now();
  watch.Wait(std::chrono::seconds(20));
  writer.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10)) << "woken by the write, not the timeout";
  // A change made before Wait is not lost either.
  std::ofstream(dir + "/console.log", std::ios::app) << "more\n";
  const auto again = std::chrono::steady_clock::now();
  watch.Wait(std::chrono::seconds(20));
  EXPECT_LT(std::chrono::steady_clock::now() - again, std::chrono::seconds(10));
}

}  // namespace
}  // namespace vmd::daemon

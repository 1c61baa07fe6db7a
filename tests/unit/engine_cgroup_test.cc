// EngineCgroups on a directory tree laid out as cgroupfs would be (the
// interface files a real mkdir in cgroupfs creates are made by the test):
// which controllers it enables where, the limits it writes, and the reason
// it gives where the hierarchy cannot limit engines.
#include "daemon/engine/engine_cgroup.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vmd::daemon {
namespace {

class EngineCgroupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-cgroup-XXXXXX";
    root_ = mkdtemp(tmpl);
    parent_ = root_ + "/vmd-engines";
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  static void Write(const std::string& path, const std::string& text) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
  }
  static std::string Read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // A cgroup dir as the kernel makes it: its interface files exist.
  static void MakeCgroup(const std::string& dir, const std::string& controllers) {
    Write(dir + "/cgroup.controllers", controllers + "\n");
    Write(dir + "/cgroup.subtree_control", "");
    Write(dir + "/memory.max", "max\n");
    Write(dir + "/cpu.max", "max 100000\n");
  }

  std::string root_;
  std::string parent_;
};

TEST(EngineLimitsTest, GuestMemoryPlusOverheadAndOneCpuPerVcpu) {
  const CgroupLimits limits = EngineLimits(/*memory_mib=*/48, /*vcpus=*/2);
  EXPECT_EQ(limits.memory_max_bytes, (48 + kEngineMemoryOverheadMib) << 20);
  EXPECT_EQ(limits.cpu_quota_us, 2 * kCpuPeriodUs);
}

TEST_F(EngineCgroupTest, EnablesControllersAndWritesTheVmsLimits) {
  MakeCgroup(root_, "cpuset cpu io memory pids");
  MakeCgroup(parent_, "");  // vmd-engines, not offered memory and cpu yet
  MakeCgroup(parent_ + "/0123456789abcdef", "cpu memory");

  EngineCgroups cgroups(parent_);
  ASSERT_TRUE(cgroups.limiting()) << cgroups.layer().reason();
  EXPECT_TRUE(cgroups.placing());
  EXPECT_TRUE(cgroups.layer().in_force());
  // Handed down from the root to vmd-engines, and from it to every engine.
  EXPECT_EQ(Read(root_ + "/cgroup.subtree_control"), "+memory +cpu");
  EXPECT_EQ(Read(parent_ + "/cgroup.subtree_control"), "+memory +cpu");

  absl::StatusOr<int> fd = cgroups.Create("0123456789abcdef", EngineLimits(48, 2));
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  EXPECT_EQ(cgroups.PathFor("0123456789abcdef"), parent_ + "/0123456789abcdef");
  EXPECT_EQ(Read(parent_ + "/0123456789abcdef/memory.max"), std::to_string((48 + kEngineMemoryOverheadMib) << 20));
  EXPECT_EQ(Read(parent_ + "/0123456789abcdef/cpu.max"), "200000 100000");
}

TEST_F(EngineCgroupTest, HierarchyWithoutTheControllersPlacesButDoesNotLimit) {
  MakeCgroup(root_, "hugetlb");  // memory and cpu are on cgroup v1 here

  EngineCgroups cgroups(parent_);
  EXPECT_TRUE(cgroups.placing());
  EXPECT_FALSE(cgroups.limiting());
  EXPECT_NE(cgroups.layer().reason().find("memory, cpu"), std::string::npos) << cgroups.layer().reason();
  // Still a cgroup of its own, with no limit written.
  std::filesystem::create_directories(parent_ + "/vm1");
  Write(parent_ + "/vm1/memory.max", "max\n");
  absl::StatusOr<int> fd = cgroups.Create("vm1", EngineLimits(48, 2));
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  EXPECT_EQ(Read(parent_ + "/vm1/memory.max"), "max\n");
}

TEST_F(EngineCgroupTest, UnwritableHierarchyIsReportedNotFatal) {
  EngineCgroups cgroups("/proc/vmd-no-such-cgroup/vmd-engines");
  EXPECT_FALSE(cgroups.placing());
  EXPECT_FALSE(cgroups.limiting());
  EXPECT_NE(cgroups.layer().reason().find("cannot create"), std::string::npos) << cgroups.layer().reason();
}

TEST_F(EngineCgroupTest, RemoveTakesAnEmptyCgroupAway) {
  std::filesystem::create_directories(parent_ + "/gone");
  RemoveEngineCgroup(parent_ + "/gone");
  EXPECT_FALSE(std::filesystem::exists(parent_ + "/gone"));
}

}  // namespace
}  // namespace vmd::daemon

// The engine's vCPU loop on the sim backend: the counter workload makes
// progress, pause really stops it, resume continues from where it was, and a
// graceful stop lets the guest power itself off.
#include "backend/vm_runner.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace vmd::engine {
namespace {

using std::chrono::milliseconds;

class VmRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-runner-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  EngineConfig Config(const std::string& workload) {
    return {.vm_id = "t", .name = "t", .vcpus = 2, .memory_mib = 16, .backend = "sim",
            .workload = workload, .heartbeat_ms = 20, .runtime_dir = dir_};
  }
  std::string Console() {
    std::ifstream in(dir_ + "/console.log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  // Waits until `pred` holds, for at most 5 s.
  template <typename Pred>
  bool Eventually(Pred pred) {
    for (int i = 0; i < 500; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return pred();
  }
  std::string dir_;
};

TEST_F(VmRunnerTest, PauseStopsProgressAndResumeContinues) {
  auto runner = VmRunner::Create(Config("counter"));
  ASSERT_TRUE(runner.ok()) << runner.status();
  EXPECT_EQ((*runner)->Status().backend, hv::BackendKind::kSim);
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE(Eventually([&] { return (*runner)->Status().guest_counter >= 5; }));

  ASSERT_TRUE((*runner)->Pause().ok());
  EXPECT_EQ((*runner)->Status().state, RunState::kPaused);
  uint64_t paused_at = (*runner)->Status().guest_counter;
  std::this_thread::sleep_for(milliseconds(150));
  EXPECT_EQ((*runner)->Status().guest_counter, paused_at) << "a paused guest made progress";
  EXPECT_EQ((*runner)->Pause().code(), absl::StatusCode::kFailedPrecondition);

  ASSERT_TRUE((*runner)->Resume().ok());
  ASSERT_TRUE(Eventually([&] { return (*runner)->Status().guest_counter > paused_at; }));
  // It continues from where it was, not from wall-clock time.
  EXPECT_LT((*runner)->Status().guest_counter, paused_at + 10);

  auto graceful = (*runner)->Stop(milliseconds(2000), /*force=*/false);
  ASSERT_TRUE(graceful.ok());
  EXPECT_TRUE(*graceful);
  std::string console = Console();
  EXPECT_EQ(console.rfind("vmd firmware: counter on 2 vcpu(s)\n", 0), 0u) << console;
  EXPECT_NE(console.find("heartbeat 1 counter=2\n"), std::string::npos) << console;
  EXPECT_NE(console.find("power-off requested"), std::string::npos) << console;
}

TEST_F(VmRunnerTest, PauseAndResumeManyTimes) {
  auto runner = VmRunner::Create(Config("idle"));
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->Start().ok());
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE((*runner)->Pause().ok()) << i;
    ASSERT_TRUE((*runner)->Resume().ok()) << i;
  }
  auto graceful = (*runner)->Stop(milliseconds(2000), /*force=*/true);
  ASSERT_TRUE(graceful.ok());
  EXPECT_FALSE(*graceful);
  EXPECT_EQ((*runner)->Status().state, RunState::kStopped);
}

TEST_F(VmRunnerTest, StopOfAPausedVmIsForced) {
  auto runner = VmRunner::Create(Config("idle"));
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->Start().ok());
  ASSERT_TRUE((*runner)->Pause().ok());
  auto graceful = (*runner)->Stop(milliseconds(5000), /*force=*/false);
  ASSERT_TRUE(graceful.ok());
  EXPECT_FALSE(*graceful);
}

TEST_F(VmRunnerTest, UnknownSimProfileIsRefused) {
  EngineConfig c = Config("idle");
  c.sim_profile = "pentium-4";
  auto runner = VmRunner::Create(c);
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vmd::engine

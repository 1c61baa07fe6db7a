// The engine's vCPU loop on the sim backend: the counter workload makes
// progress, pause really stops it, resume continues from where it was, and a
// graceful stop lets the guest power itself off.
#include "backend/engine/vm_runner.h"

#include <filesystem>
#include <iostream>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "tests/engine_test_config.h"

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
    return testing::TestEngineConfig("sim", workload, dir_, /*vcpus=*/2, /*memory_mib=*/16);
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

// On kvm too, when it is usable: the counter lives in guest memory, written by
// the real firmware, so a paused guest that made progress would show.
TEST_F(VmRunnerTest, PauseStopsProgressOnKvm) {
  if (!hv::ProbeBackends()[0].usable) GTEST_SKIP() << "kvm is not usable here: " << hv::ProbeBackends()[0].reason;
  EngineConfig config = Config("counter");
  config.set_backend(vmd::v1::BACKEND_KVM);
  auto runner = VmRunner::Create(config);
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  std::cout << "[kvm] ran on real KVM" << std::endl;
  ASSERT_TRUE(Eventually([&] { return (*runner)->Status().guest_counter > 0; }));
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE((*runner)->Pause().ok());
    uint64_t paused_at = (*runner)->Status().guest_counter;
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_EQ((*runner)->Status().guest_counter, paused_at) << "a paused kvm guest made progress";
    ASSERT_TRUE((*runner)->Resume().ok());
    ASSERT_TRUE(Eventually([&] { return (*runner)->Status().guest_counter > paused_at; }));
  }
  auto graceful = (*runner)->Stop(milliseconds(5000), /*force=*/false);
  ASSERT_TRUE(graceful.ok());
  EXPECT_TRUE(*graceful);
}

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
  c.set_sim_profile("pentium-4");
  auto runner = VmRunner::Create(c);
  EXPECT_EQ(runner.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vmd::engine

namespace vmd::engine {
namespace {

vmd::v1::ProbeOp Rdmsr(uint32_t index) {
  vmd::v1::ProbeOp op;
  op.mutable_rdmsr()->set_index(index);
  return op;
}

TEST_F(VmRunnerTest, ProbeProgramsRunOnTheSimModel) {
  auto runner = VmRunner::Create(Config("probe"));
  ASSERT_TRUE(runner.ok()) << runner.status();
  ASSERT_TRUE((*runner)->Start().ok());
  vmd::v1::RunProbeRequest req;
  *req.add_ops() = Rdmsr(0x1b);
  *req.add_ops() = Rdmsr(0x12345678);
  req.add_ops()->mutable_cpuid()->set_leaf(0x40000000);
  auto* self_ipi = req.add_ops()->mutable_wrmsr();
  self_ipi->set_index(0x83f);  // x2APIC SELF_IPI
  self_ipi->set_value(0x40);
  req.add_ops()->mutable_wait_interrupt()->set_vector(0x40);
  auto* write = req.add_ops()->mutable_write_memory();
  write->set_address(0x400000);
  write->set_size(8);
  write->set_value(0x1122334455667788);
  req.add_ops()->mutable_read_memory()->set_address(0x400004);
  req.mutable_ops(6)->mutable_read_memory()->set_size(4);
  req.add_ops()->mutable_wait_interrupt()->set_timeout_us(20000);
  req.mutable_ops(7)->mutable_wait_interrupt()->set_vector(0x41);

  auto resp = (*runner)->RunProbe(req);
  ASSERT_TRUE(resp.ok()) << resp.status();
  ASSERT_EQ(resp->results_size(), 8);
  EXPECT_EQ(resp->results(0).outcome(), vmd::v1::PROBE_OUTCOME_OK);
  EXPECT_EQ(resp->results(0).values(0), 0xfee00d00u) << "x2APIC on, BSP";
  EXPECT_EQ(resp->results(1).outcome(), vmd::v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(resp->results(1).vector(), 13u);
  ASSERT_EQ(resp->results(2).values_size(), 4);
  EXPECT_EQ(resp->results(2).values(1), 0x4b4d564bu) << "KVMK";
  EXPECT_EQ(resp->results(3).outcome(), vmd::v1::PROBE_OUTCOME_OK);
  EXPECT_EQ(resp->results(4).outcome(), vmd::v1::PROBE_OUTCOME_OK);
  EXPECT_EQ(resp->results(4).values(0), 1u);
  EXPECT_EQ(resp->results(6).values(0), 0x11223344u);
  EXPECT_EQ(resp->results(7).outcome(), vmd::v1::PROBE_OUTCOME_TIMEOUT);

  // Programs run one after another on the same mailbox.
  vmd::v1::RunProbeRequest again;
  *again.add_ops() = Rdmsr(0x10);
  auto second = (*runner)->RunProbe(again);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->results(0).outcome(), vmd::v1::PROBE_OUTCOME_OK);
}

TEST_F(VmRunnerTest, ProbesNeedTheProbeWorkloadAndValidOps) {
  auto idle = VmRunner::Create(Config("idle"));
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE((*idle)->Start().ok());
  vmd::v1::RunProbeRequest req;
  *req.add_ops() = Rdmsr(0x10);
  EXPECT_EQ((*idle)->RunProbe(req).status().code(), absl::StatusCode::kFailedPrecondition);

  auto runner = VmRunner::Create(Config("probe"));
  ASSERT_TRUE(runner.ok());
  ASSERT_TRUE((*runner)->Start().ok());
  vmd::v1::RunProbeRequest bad;
  bad.add_ops()->mutable_read_memory()->set_address(3);
  bad.mutable_ops(0)->mutable_read_memory()->set_size(4);
  auto s = (*runner)->RunProbe(bad).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("ops[0].read_memory.address"), std::string::npos) << s;
  EXPECT_EQ((*runner)->RunProbe(vmd::v1::RunProbeRequest()).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vmd::engine

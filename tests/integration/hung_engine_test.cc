// Engines that stop answering (SIGSTOP): the VM is marked unresponsive
// without a lie about its state, the mark goes when the engine answers
// again, a stop honours its timeout, and a vmd restart with hung engines
// serves at once while it adopts them in parallel.
#include <signal.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class HungEngineTest : public ::testing::Test {
 protected:
  void SetUp() override { vmd_.Start(); }
  v1::Vm Get(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetVmRequest r;
    r.set_name(name);
    v1::Vm vm;
    EXPECT_TRUE(vmd_.vms()->GetVm(&ctx, r, &vm).ok());
    return vm;
  }
  v1::Vm Run(const std::string& name) {
    grpc::ClientContext create_ctx;
    v1::CreateVmRequest create;
    *create.mutable_spec() = SmallSpec(name, v1::BACKEND_SIM, "counter");
    v1::Vm vm;
    EXPECT_TRUE(vmd_.vms()->CreateVm(&create_ctx, create, &vm).ok());
    grpc::ClientContext start_ctx;
    v1::StartVmRequest start;
    start.set_name(name);
    EXPECT_TRUE(vmd_.vms()->StartVm(&start_ctx, start, &vm).ok());
    return vm;
  }
  // Whether the retained events hold one of `type`.
  bool HasEvent(v1::EventType type) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(500));
    v1::WatchEventsRequest r;
    auto stream = vmd_.vms()->WatchEvents(&ctx, r);
    v1::Event e;
    while (stream->Read(&e)) {
      if (e.type() == type) return true;
    }
    return false;
  }
  template <typename Pred>
  bool Within(milliseconds limit, Pred pred) {
    const auto deadline = steady_clock::now() + limit;
    while (!pred()) {
      if (steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return true;
  }
  DaemonProcess vmd_;
};

TEST_F(HungEngineTest, AStoppedEngineMarksItsVmUnresponsiveUntilItAnswersAgain) {
  const v1::Vm vm = Run("a");
  ASSERT_EQ(kill(vm.status().engine_pid(), SIGSTOP), 0);
  ASSERT_TRUE(Within(milliseconds(8000), [&] { return Get("a").status().has_unresponsive_since(); }));
  v1::Vm hung = Get("a");
  EXPECT_EQ(hung.status().state(), v1::VM_STATE_RUNNING) << "the state is what the engine last said";
  EXPECT_NE(hung.status().unresponsive_reason().find("has not answered"), std::string::npos)
      << hung.status().unresponsive_reason();
  EXPECT_TRUE(HasEvent(v1::EVENT_TYPE_ENGINE_UNRESPONSIVE));
  ASSERT_EQ(kill(vm.status().engine_pid(), SIGCONT), 0);
  ASSERT_TRUE(Within(milliseconds(8000), [&] { return !Get("a").status().has_unresponsive_since(); }));
  EXPECT_EQ(Get("a").status().state(), v1::VM_STATE_RUNNING);
  EXPECT_TRUE(HasEvent(v1::EVENT_TYPE_ENGINE_RESPONSIVE));
}

TEST_F(HungEngineTest, StoppingAHungEngineHonoursTheTimeout) {
  const v1::Vm vm = Run("a");
  ASSERT_EQ(kill(vm.status().engine_pid(), SIGSTOP), 0);
  grpc::ClientContext ctx;
  v1::StopVmRequest stop;
  stop.set_name("a");
  stop.set_timeout_ms(1000);
  v1::Vm stopped;
  const auto start = steady_clock::now();
  grpc::Status s = vmd_.vms()->StopVm(&ctx, stop, &stopped);
  const auto took = std::chrono::duration_cast<milliseconds>(steady_clock::now() - start);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(stopped.status().state(), v1::VM_STATE_STOPPED);
  EXPECT_EQ(stopped.status().exit().signal(), SIGKILL);
  // The timeout, its slack, and the kill: not the 10 s of a call deadline.
  EXPECT_LT(took, milliseconds(5000)) << "stop --timeout-ms 1000 took " << took.count() << " ms";
}

TEST_F(HungEngineTest, ARestartWithHungEnginesServesAtOnceAndAdoptsThemInParallel) {
  constexpr int kVms = 4;
  std::vector<pid_t> engines;
  for (int i = 0; i < kVms; ++i) engines.push_back(Run("vm" + std::to_string(i)).status().engine_pid());
  vmd_.Kill(SIGKILL);
  for (pid_t pid : engines) ASSERT_EQ(kill(pid, SIGSTOP), 0);
  const auto start = steady_clock::now();
  vmd_.Start();  // returns once it serves
  EXPECT_LT(steady_clock::now() - start, milliseconds(3000)) << "adoption must not hold up the listener";
  // Each hung engine costs one call deadline, all at once: kVms of them in
  // series would take kVms times as long.
  ASSERT_TRUE(Within(milliseconds(15000), [&] {
    for (int i = 0; i < kVms; ++i) {
      if (Get("vm" + std::to_string(i)).status().state() != v1::VM_STATE_CRASHED) return false;
    }
    return true;
  }));
  EXPECT_LT(steady_clock::now() - start, milliseconds(kVms * 3000 - 2000));
  EXPECT_NE(Get("vm0").status().last_error().find("did not answer after a vmd restart"), std::string::npos);
}

}  // namespace
}  // namespace vmd::testing

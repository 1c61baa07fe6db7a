#include "daemon/core/vm_state_machine.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

namespace vmd::daemon {
namespace {

using v1::VmState;

// The whole table: every operation in every state.
const std::map<VmOp, std::set<VmState>> kLegal = {
    {VmOp::kStart, {v1::VM_STATE_CREATED, v1::VM_STATE_STOPPED, v1::VM_STATE_CRASHED}},
    {VmOp::kPause, {v1::VM_STATE_RUNNING}},
    {VmOp::kResume, {v1::VM_STATE_PAUSED}},
    {VmOp::kStop, {v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED}},
    {VmOp::kDelete, {v1::VM_STATE_CREATED, v1::VM_STATE_STOPPED, v1::VM_STATE_CRASHED}},
};

TEST(VmStateMachineTest, EveryOperationInEveryState) {
  int checked = 0;
  for (const auto& [op, legal] : kLegal) {
    for (int s = v1::VM_STATE_CREATED; s <= v1::VM_STATE_CRASHED; ++s) {
      VmState state = static_cast<VmState>(s);
      absl::Status status = CheckOperation("vm1", state, op);
      if (legal.contains(state)) {
        EXPECT_TRUE(status.ok()) << VmOpName(op) << " in " << StateName(state) << ": " << status;
      } else {
        EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition) << VmOpName(op) << " in " << StateName(state);
        // The message names the VM and its current state.
        EXPECT_NE(status.message().find("vm \"vm1\" is " + StateName(state)), std::string::npos) << status;
      }
      ++checked;
    }
  }
  EXPECT_EQ(checked, 5 * 7);
}

TEST(VmStateMachineTest, StatesWithAnEngine) {
  std::set<VmState> with;
  for (int s = v1::VM_STATE_CREATED; s <= v1::VM_STATE_CRASHED; ++s) {
    if (HasEngine(static_cast<VmState>(s))) with.insert(static_cast<VmState>(s));
  }
  EXPECT_EQ(with, (std::set<VmState>{v1::VM_STATE_STARTING, v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED,
                                     v1::VM_STATE_STOPPING}));
}

TEST(VmStateMachineTest, StateNames) {
  EXPECT_EQ(StateName(v1::VM_STATE_RUNNING), "running");
  EXPECT_EQ(StateName(v1::VM_STATE_CRASHED), "crashed");
}

}  // namespace
}  // namespace vmd::daemon

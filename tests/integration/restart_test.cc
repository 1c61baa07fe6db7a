// Crashes: vmd killed with SIGKILL while VMs run (engines outlive it and are
// re-attached), and an engine killed with SIGKILL (its VM turns CRASHED).
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>
#include "grpcpp/grpcpp.h"
#include "backend/guest/guest_abi.h"
#include "tests/integration/daemon_process.h"
#include "vmd/v1/probe.grpc.pb.h"

namespace vmd::testing {
namespace {

// Alive and not a zombie (an orphaned engine may wait for its reaper).
bool Alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

v1::Vm Get(v1::VmService::Stub* s, const std::string& name) {
  grpc::ClientContext ctx;
  v1::GetVmRequest req;
  req.set_name(name);
  v1::Vm vm;
  EXPECT_TRUE(s->GetVm(&ctx, req, &vm).ok()) << name;
  return vm;
}

grpc::Status Lifecycle(v1::VmService::Stub* s, const std::string& op, const std::string& name, v1::Vm* out) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (op == "create") {
    v1::CreateVmRequest r;
    *r.mutable_spec() = SmallSpec(name, v1::BACKEND_SIM, "counter");
    return s->CreateVm(&ctx, r, out);
  }
  if (op == "start") {
    v1::StartVmRequest r;
    r.set_name(name);
    return s->StartVm(&ctx, r, out);
  }
  if (op == "pause") {
    v1::PauseVmRequest r;
    r.set_name(name);
    return s->PauseVm(&ctx, r, out);
  }
  if (op == "resume") {
    v1::ResumeVmRequest r;
    r.set_name(name);
    return s->ResumeVm(&ctx, r, out);
  }
  v1::StopVmRequest r;
  r.set_name(name);
  return s->StopVm(&ctx, r, out);
}

TEST(RestartTest, VmsKeepRunningAcrossAKilledVmdAndStayControllable) {
  DaemonProcess daemon;
  daemon.Start();
  auto s = daemon.vms();
  v1::Vm vm;
  for (const char* name : {"r1", "r2", "r3"}) {
    ASSERT_TRUE(Lifecycle(s.get(), "create", name, &vm).ok());
    ASSERT_TRUE(Lifecycle(s.get(), "start", name, &vm).ok());
  }
  ASSERT_TRUE(Lifecycle(s.get(), "pause", "r2", &vm).ok());
  const pid_t pid1 = Get(s.get(), "r1").status().engine_pid();

  daemon.Kill(SIGKILL);
  ASSERT_TRUE(Alive(pid1)) << "the engine died with vmd";
  daemon.Start();
  s = daemon.vms();

  v1::Vm r1 = Get(s.get(), "r1");
  EXPECT_EQ(r1.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(r1.status().engine_pid(), pid1);
  EXPECT_EQ(Get(s.get(), "r2").status().state(), v1::VM_STATE_PAUSED);
  EXPECT_EQ(Get(s.get(), "r3").status().state(), v1::VM_STATE_RUNNING);

  // Still controllable.
  ASSERT_TRUE(Lifecycle(s.get(), "resume", "r2", &vm).ok());
  EXPECT_EQ(vm.status().state(), v1::VM_STATE_RUNNING);
  ASSERT_TRUE(Lifecycle(s.get(), "pause", "r1", &vm).ok());
  ASSERT_TRUE(Lifecycle(s.get(), "stop", "r1", &vm).ok());
  EXPECT_EQ(vm.status().state(), v1::VM_STATE_STOPPED);
  EXPECT_FALSE(Alive(pid1)) << "the stopped engine still runs";

  // An adopted engine that dies is noticed too, with its exact exit (its
  // exit monitor recorded it: vmd could not reap it after the restart).
  const pid_t pid3 = Get(s.get(), "r3").status().engine_pid();
  kill(pid3, SIGKILL);
  ASSERT_TRUE(WaitForState(s.get(), "r3", v1::VM_STATE_CRASHED));
  EXPECT_EQ(Get(s.get(), "r3").status().exit().signal(), SIGKILL);
}

// SIGTERM is an orderly shutdown: exit 0, the socket removed, the VMs left
// running for the next vmd.
TEST(RestartTest, SigtermShutsVmdDownCleanlyAndLeavesVmsRunning) {
  DaemonProcess daemon;
  daemon.Start();
  auto s = daemon.vms();
  v1::Vm vm;
  ASSERT_TRUE(Lifecycle(s.get(), "create", "keeper", &vm).ok());
  ASSERT_TRUE(Lifecycle(s.get(), "start", "keeper", &vm).ok());
  int status = daemon.Kill(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << "vmd died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() + "/vmd.sock"));
  EXPECT_TRUE(Alive(vm.status().engine_pid()));
  daemon.Start();
  s = daemon.vms();
  EXPECT_EQ(Get(s.get(), "keeper").status().state(), v1::VM_STATE_RUNNING);
}

TEST(RestartTest, AKilledEngineTurnsItsVmCrashedWithTheSignal) {
  DaemonProcess daemon;
  daemon.Start();
  auto s = daemon.vms();
  v1::Vm vm;
  ASSERT_TRUE(Lifecycle(s.get(), "create", "victim", &vm).ok());
  ASSERT_TRUE(Lifecycle(s.get(), "start", "victim", &vm).ok());
  uint64_t after = 0;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    auto reader = s->WatchEvents(&ctx, {});
    v1::Event e;
    while (reader->Read(&e)) after = e.sequence();
  }
  kill(vm.status().engine_pid(), SIGKILL);
  ASSERT_TRUE(WaitForState(s.get(), "victim", v1::VM_STATE_CRASHED));
  v1::Vm crashed = Get(s.get(), "victim");
  EXPECT_EQ(crashed.status().exit().signal(), SIGKILL);
  EXPECT_EQ(crashed.status().exit().code(), -1);
  EXPECT_NE(crashed.status().exit().reason().find("killed by signal 9"), std::string::npos)
      << crashed.status().exit().reason();
  EXPECT_EQ(crashed.status().engine_pid(), 0);
  EXPECT_FALSE(crashed.status().last_error().empty());

  // ...with an event.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  auto reader = s->WatchEvents(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));
  EXPECT_EQ(e.old_state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(e.new_state(), v1::VM_STATE_CRASHED);
  ctx.TryCancel();

  // A crashed VM can be started again.
  ASSERT_TRUE(Lifecycle(s.get(), "start", "victim", &vm).ok());
  EXPECT_EQ(vm.status().state(), v1::VM_STATE_RUNNING);
}

TEST(RestartTest, AnEngineThatDiedWhileVmdWasDownIsReportedCrashed) {
  DaemonProcess daemon;
  daemon.Start();
  auto s = daemon.vms();
  v1::Vm vm;
  ASSERT_TRUE(Lifecycle(s.get(), "create", "lost", &vm).ok());
  ASSERT_TRUE(Lifecycle(s.get(), "start", "lost", &vm).ok());
  daemon.Kill(SIGKILL);
  kill(vm.status().engine_pid(), SIGKILL);
  for (int i = 0; i < 100 && Alive(vm.status().engine_pid()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  daemon.Start();
  s = daemon.vms();
  v1::Vm lost = Get(s.get(), "lost");
  EXPECT_EQ(lost.status().state(), v1::VM_STATE_CRASHED);
  EXPECT_NE(lost.status().exit().reason().find("was gone when vmd restarted"), std::string::npos)
      << lost.status().exit().reason();
}

}  // namespace
}  // namespace vmd::testing

namespace vmd::testing {
namespace {

// A guest that triple-faults on kvm: its VM turns CRASHED with the exit
// reason and the vCPU registers in its status. The probe clears the guest's
// top-level page table entry and then touches memory the TLB has not seen.
TEST(CrashTest, AGuestTripleFaultOnKvmIsReportedWithRegisters) {
  DaemonProcess daemon;
  daemon.Start();
  if (std::string why = daemon.KvmUnusableReason(); !why.empty()) GTEST_SKIP() << "kvm is not usable here: " << why;
  std::cout << "[kvm] ran on real KVM" << std::endl;
  auto s = daemon.vms();
  grpc::ClientContext c1, c2;
  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec("doomed", v1::BACKEND_KVM, "probe");
  v1::Vm vm;
  ASSERT_TRUE(s->CreateVm(&c1, create, &vm).ok());
  v1::StartVmRequest start;
  start.set_name("doomed");
  ASSERT_TRUE(s->StartVm(&c2, start, &vm).ok());

  auto probe = v1::ProbeService::NewStub(daemon.channel());
  v1::RunProbeRequest req;
  req.set_name("doomed");
  auto* clear = req.add_ops()->mutable_write_memory();
  clear->set_address(VMD_PAGE_TABLES_GPA);  // PML4[0]: all of guest memory
  clear->set_size(8);
  clear->set_value(0);
  auto* touch = req.add_ops()->mutable_read_memory();
  touch->set_address(24u << 20);
  touch->set_size(8);
  req.set_timeout_ms(5000);
  grpc::ClientContext pctx;
  v1::RunProbeResponse resp;
  grpc::Status st = probe->RunProbe(&pctx, req, &resp);
  EXPECT_FALSE(st.ok()) << "the guest survived losing its page tables";

  ASSERT_TRUE(WaitForState(s.get(), "doomed", v1::VM_STATE_CRASHED));
  v1::Vm crashed = Get(s.get(), "doomed");
  EXPECT_NE(crashed.status().exit().reason().find("shutdown"), std::string::npos) << crashed.status().exit().reason();
  EXPECT_NE(crashed.status().exit().register_dump().find("rip="), std::string::npos)
      << crashed.status().exit().register_dump();
  EXPECT_EQ(crashed.status().exit().code(), 2) << "the engine's exit code for a crashed guest";
}

}  // namespace
}  // namespace vmd::testing

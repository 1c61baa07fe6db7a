// 16 concurrent clients each running full lifecycles against one vmd: no lost
// or duplicated record, no deadlock, and a watcher sees every event exactly
// once, in order.
#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using std::chrono::seconds;

constexpr int kClients = 16;
constexpr int kLifecyclesPerClient = 100;
constexpr int kEventsPerLifecycle = 6;  // created, starting, running, stopping, stopped, deleted

template <typename Req, typename Resp>
grpc::Status Call(v1::VmService::Stub* s,
                  grpc::Status (v1::VmService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req,
                  Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + seconds(60));
  return (s->*method)(&ctx, req, resp);
}

TEST(ConcurrencyTest, SixteenClientsRunFullLifecycles) {
  DaemonProcess daemon;
  daemon.Start();
  const size_t expected_events = size_t{kClients} * kLifecyclesPerClient * kEventsPerLifecycle;

  // The watcher starts first and must see everything.
  std::vector<v1::Event> seen;
  std::thread watcher([&] {
    auto s = daemon.vms();
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + seconds(600));
    auto reader = s->WatchEvents(&ctx, {});
    v1::Event e;
    while (seen.size() < expected_events && reader->Read(&e)) seen.push_back(e);
    ctx.TryCancel();
  });

  std::atomic<int> failures{0};
  std::set<std::string> ids;
  std::mutex ids_mu;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto s = daemon.vms();  // one channel per client
      for (int i = 0; i < kLifecyclesPerClient && failures == 0; ++i) {
        const std::string name = absl::StrCat("c", c, "-", i);
        v1::CreateVmRequest create;
        *create.mutable_spec() = SmallSpec(name);
        v1::Vm vm;
        auto check = [&](const grpc::Status& st, const char* op) {
          if (!st.ok()) {
            ADD_FAILURE() << op << " " << name << ": " << st.error_message();
            ++failures;
          }
          return st.ok();
        };
        if (!check(Call(s.get(), &v1::VmService::Stub::CreateVm, create, &vm), "create")) return;
        {
          std::lock_guard l(ids_mu);
          EXPECT_TRUE(ids.insert(vm.id()).second) << "duplicate id " << vm.id();
        }
        v1::StartVmRequest start;
        start.set_name(name);
        if (!check(Call(s.get(), &v1::VmService::Stub::StartVm, start, &vm), "start")) return;
        v1::GetVmRequest get;
        get.set_name(name);
        if (!check(Call(s.get(), &v1::VmService::Stub::GetVm, get, &vm), "get")) return;
        EXPECT_EQ(vm.status().state(), v1::VM_STATE_RUNNING);
        v1::StopVmRequest stop;
        stop.set_name(name);
        if (!check(Call(s.get(), &v1::VmService::Stub::StopVm, stop, &vm), "stop")) return;
        v1::DeleteVmRequest del;
        del.set_name(name);
        v1::DeleteVmResponse deleted;
        if (!check(Call(s.get(), &v1::VmService::Stub::DeleteVm, del, &deleted), "delete")) return;
      }
    });
  }
  for (std::thread& t : clients) t.join();
  watcher.join();
  ASSERT_EQ(failures, 0);
  EXPECT_EQ(ids.size(), size_t{kClients} * kLifecyclesPerClient);

  auto s = daemon.vms();
  v1::ListVmsResponse left;
  ASSERT_TRUE(Call(s.get(), &v1::VmService::Stub::ListVms, v1::ListVmsRequest(), &left).ok());
  EXPECT_EQ(left.vms_size(), 0) << "records left behind";

  // Every event exactly once, in sequence order, and per VM in lifecycle order.
  ASSERT_EQ(seen.size(), expected_events);
  std::map<std::string, std::vector<v1::VmState>> per_vm;
  for (size_t i = 0; i < seen.size(); ++i) {
    ASSERT_EQ(seen[i].sequence(), i + 1) << "gap or reordering at " << i;
    per_vm[seen[i].vm_name()].push_back(seen[i].new_state());
  }
  ASSERT_EQ(per_vm.size(), size_t{kClients} * kLifecyclesPerClient);
  const std::vector<v1::VmState> lifecycle = {v1::VM_STATE_CREATED, v1::VM_STATE_STARTING, v1::VM_STATE_RUNNING,
                                              v1::VM_STATE_STOPPING, v1::VM_STATE_STOPPED,
                                              v1::VM_STATE_UNSPECIFIED};
  for (const auto& [name, states] : per_vm) EXPECT_EQ(states, lifecycle) << name;
}

TEST(ConcurrencyTest, OperationsOnOneVmAreSerialized) {
  DaemonProcess daemon;
  daemon.Start();
  auto s = daemon.vms();
  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec("shared");
  v1::Vm vm;
  ASSERT_TRUE(Call(s.get(), &v1::VmService::Stub::CreateVm, create, &vm).ok());
  v1::StartVmRequest start;
  start.set_name("shared");
  ASSERT_TRUE(Call(s.get(), &v1::VmService::Stub::StartVm, start, &vm).ok());

  std::atomic<int> pauses{0}, resumes{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto stub = daemon.vms();
      for (int i = 0; i < 25; ++i) {
        v1::Vm out;
        v1::PauseVmRequest p;
        p.set_name("shared");
        grpc::Status st = Call(stub.get(), &v1::VmService::Stub::PauseVm, p, &out);
        (st.ok() ? pauses : st.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? refused : other)++;
        v1::ResumeVmRequest r;
        r.set_name("shared");
        st = Call(stub.get(), &v1::VmService::Stub::ResumeVm, r, &out);
        (st.ok() ? resumes : st.error_code() == grpc::StatusCode::FAILED_PRECONDITION ? refused : other)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(other, 0);
  EXPECT_EQ(pauses + resumes + refused, 8 * 25 * 2);
  v1::GetVmRequest get;
  get.set_name("shared");
  ASSERT_TRUE(Call(s.get(), &v1::VmService::Stub::GetVm, get, &vm).ok());
  // Each accepted pause was followed by exactly one accepted resume (or the VM is still paused).
  EXPECT_EQ(pauses - resumes, vm.status().state() == v1::VM_STATE_PAUSED ? 1 : 0);

  // The events agree with the answers: 2 start events + one per accepted op.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  auto reader = s->WatchEvents(&ctx, {});
  v1::Event e;
  int events = 0;
  v1::VmState last = v1::VM_STATE_UNSPECIFIED;
  while (reader->Read(&e)) {
    ++events;
    if (events > 1) {
      EXPECT_EQ(e.old_state(), last) << "events out of order at " << e.sequence();
    }
    last = e.new_state();
  }
  EXPECT_EQ(events, 3 + pauses + resumes);
}

}  // namespace
}  // namespace vmd::testing

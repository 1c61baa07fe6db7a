// A real vmd and real engines, through the generated stub: the whole
// lifecycle, errors that change nothing, events, console, health, reflection.
#include <chrono>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using std::chrono::milliseconds;

template <typename Req, typename Resp>
grpc::Status Call(grpc::Status (v1::VmService::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                  v1::VmService::Stub* stub, const Req& req, Resp* resp) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return (stub->*method)(&ctx, req, resp);
}

v1::Vm Create(v1::VmService::Stub* s, const v1::VmSpec& spec) {
  v1::CreateVmRequest req;
  *req.mutable_spec() = spec;
  v1::Vm vm;
  grpc::Status st = Call(&v1::VmService::Stub::CreateVm, s, req, &vm);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return vm;
}

template <typename Req>
Req Named(const std::string& name) {
  Req r;
  r.set_name(name);
  return r;
}

// Reads events until `count` arrived or 10 s passed.
std::vector<v1::Event> ReadEvents(v1::VmService::Stub* s, uint64_t after, const std::string& vm, size_t count) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::WatchEventsRequest req;
  req.set_after_sequence(after);
  req.set_vm_name(vm);
  auto reader = s->WatchEvents(&ctx, req);
  std::vector<v1::Event> out;
  v1::Event e;
  while (out.size() < count && reader->Read(&e)) out.push_back(e);
  ctx.TryCancel();
  return out;
}

class LifecycleTest : public ::testing::TestWithParam<v1::Backend> {
 protected:
  void SetUp() override {
    daemon_.Start();
    stub_ = daemon_.vms();
    if (GetParam() == v1::BACKEND_KVM) {
      if (std::string why = daemon_.KvmUnusableReason(); !why.empty()) GTEST_SKIP() << "kvm is not usable here: " << why;
      std::cout << "[kvm] ran on real KVM" << std::endl;
    }
  }
  DaemonProcess daemon_;
  std::unique_ptr<v1::VmService::Stub> stub_;
};

TEST_P(LifecycleTest, FullLifecycle) {
  v1::VmService::Stub* s = stub_.get();
  v1::VmSpec spec = SmallSpec("life", GetParam(), "counter");
  (*spec.mutable_labels())["suite"] = "lifecycle";
  v1::Vm vm = Create(s, spec);
  EXPECT_EQ(vm.status().state(), v1::VM_STATE_CREATED);
  EXPECT_EQ(vm.id().size(), 16u);

  v1::Vm started;
  ASSERT_TRUE(Call(&v1::VmService::Stub::StartVm, s, Named<v1::StartVmRequest>("life"), &started).ok());
  EXPECT_EQ(started.status().state(), v1::VM_STATE_RUNNING);
  EXPECT_EQ(started.status().backend(), GetParam());
  EXPECT_GT(started.status().engine_pid(), 0);
  EXPECT_TRUE(started.status().has_started_at());

  // The guest runs: its heartbeat reaches the console.
  std::string console;
  for (int i = 0; i < 200 && console.find("heartbeat 2 ") == std::string::npos; ++i) {
    grpc::ClientContext ctx;
    auto reader = s->StreamConsole(&ctx, Named<v1::StreamConsoleRequest>("life"));
    v1::ConsoleChunk chunk;
    console.clear();
    while (reader->Read(&chunk)) console += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(console.rfind("vmd firmware: counter on 1 vcpu(s)\n", 0), 0u) << console;
  EXPECT_NE(console.find("heartbeat 2 counter="), std::string::npos) << console;

  v1::Vm vm2;
  ASSERT_TRUE(Call(&v1::VmService::Stub::PauseVm, s, Named<v1::PauseVmRequest>("life"), &vm2).ok());
  EXPECT_EQ(vm2.status().state(), v1::VM_STATE_PAUSED);
  ASSERT_TRUE(Call(&v1::VmService::Stub::ResumeVm, s, Named<v1::ResumeVmRequest>("life"), &vm2).ok());
  EXPECT_EQ(vm2.status().state(), v1::VM_STATE_RUNNING);

  v1::ListVmsRequest list;
  (*list.mutable_label_selector())["suite"] = "lifecycle";
  list.add_states(v1::VM_STATE_RUNNING);
  v1::ListVmsResponse listed;
  ASSERT_TRUE(Call(&v1::VmService::Stub::ListVms, s, list, &listed).ok());
  ASSERT_EQ(listed.vms_size(), 1);
  EXPECT_EQ(listed.vms(0).id(), vm.id());

  v1::StopVmRequest stop = Named<v1::StopVmRequest>("life");
  stop.set_timeout_ms(5000);
  ASSERT_TRUE(Call(&v1::VmService::Stub::StopVm, s, stop, &vm2).ok());
  EXPECT_EQ(vm2.status().state(), v1::VM_STATE_STOPPED);
  EXPECT_EQ(vm2.status().engine_pid(), 0);
  EXPECT_EQ(vm2.status().exit().reason(), "guest powered off");
  EXPECT_EQ(vm2.status().exit().code(), 0);

  // Stopped VMs start again.
  ASSERT_TRUE(Call(&v1::VmService::Stub::StartVm, s, Named<v1::StartVmRequest>("life"), &vm2).ok());
  stop.set_force(true);
  ASSERT_TRUE(Call(&v1::VmService::Stub::StopVm, s, stop, &vm2).ok());

  v1::DeleteVmResponse deleted;
  ASSERT_TRUE(Call(&v1::VmService::Stub::DeleteVm, s, Named<v1::DeleteVmRequest>("life"), &deleted).ok());
  EXPECT_EQ(Call(&v1::VmService::Stub::GetVm, s, Named<v1::GetVmRequest>("life"), &vm2).error_code(),
            grpc::StatusCode::NOT_FOUND);

  std::vector<v1::Event> events = ReadEvents(s, 0, "life", 12);
  std::vector<std::pair<v1::VmState, v1::VmState>> expected = {
      {v1::VM_STATE_UNSPECIFIED, v1::VM_STATE_CREATED}, {v1::VM_STATE_CREATED, v1::VM_STATE_STARTING},
      {v1::VM_STATE_STARTING, v1::VM_STATE_RUNNING},    {v1::VM_STATE_RUNNING, v1::VM_STATE_PAUSED},
      {v1::VM_STATE_PAUSED, v1::VM_STATE_RUNNING},      {v1::VM_STATE_RUNNING, v1::VM_STATE_STOPPING},
      {v1::VM_STATE_STOPPING, v1::VM_STATE_STOPPED},    {v1::VM_STATE_STOPPED, v1::VM_STATE_STARTING},
      {v1::VM_STATE_STARTING, v1::VM_STATE_RUNNING},    {v1::VM_STATE_RUNNING, v1::VM_STATE_STOPPING},
      {v1::VM_STATE_STOPPING, v1::VM_STATE_STOPPED},    {v1::VM_STATE_STOPPED, v1::VM_STATE_UNSPECIFIED}};
  ASSERT_EQ(events.size(), expected.size());
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].old_state(), expected[i].first) << i;
    EXPECT_EQ(events[i].new_state(), expected[i].second) << i;
    if (i > 0) {
      EXPECT_GT(events[i].sequence(), events[i - 1].sequence());
    }
  }
  EXPECT_EQ(events.back().type(), v1::EVENT_TYPE_DELETED);
}

INSTANTIATE_TEST_SUITE_P(Backends, LifecycleTest, ::testing::Values(v1::BACKEND_SIM, v1::BACKEND_KVM),
                         [](const auto& info) { return info.param == v1::BACKEND_SIM ? "sim" : "kvm"; });

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    daemon_.Start();
    stub_ = daemon_.vms();
  }
  DaemonProcess daemon_;
  std::unique_ptr<v1::VmService::Stub> stub_;
};

TEST_F(DaemonTest, InvalidRequestsNameTheFieldAndChangeNothing) {
  v1::VmService::Stub* s = stub_.get();
  v1::CreateVmRequest bad;
  *bad.mutable_spec() = SmallSpec("Bad_Name");
  v1::Vm vm;
  grpc::Status st = Call(&v1::VmService::Stub::CreateVm, s, bad, &vm);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("spec.name"), std::string::npos) << st.error_message();
  *bad.mutable_spec() = SmallSpec("ok");
  bad.mutable_spec()->set_memory_mib(1);
  st = Call(&v1::VmService::Stub::CreateVm, s, bad, &vm);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("spec.memory_mib"), std::string::npos) << st.error_message();

  Create(s, SmallSpec("a"));
  st = Call(&v1::VmService::Stub::ResumeVm, s, Named<v1::ResumeVmRequest>("a"), &vm);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("is created"), std::string::npos) << st.error_message();
  st = Call(&v1::VmService::Stub::StartVm, s, Named<v1::StartVmRequest>("nope"), &vm);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::NOT_FOUND);

  // Only the one good create produced an event.
  std::vector<v1::Event> events = ReadEvents(s, 0, "", 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].vm_name(), "a");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(300));
  v1::WatchEventsRequest req;
  req.set_after_sequence(events[0].sequence());
  auto reader = s->WatchEvents(&ctx, req);
  v1::Event more;
  EXPECT_FALSE(reader->Read(&more)) << "unexpected event " << more.DebugString();
}

TEST_F(DaemonTest, WatchersResumeFromTheirLastSequence) {
  v1::VmService::Stub* s = stub_.get();
  Create(s, SmallSpec("w1"));
  std::vector<v1::Event> first = ReadEvents(s, 0, "", 1);
  ASSERT_EQ(first.size(), 1u);
  // While no one watches, more happens.
  Create(s, SmallSpec("w2"));
  Create(s, SmallSpec("w3"));
  std::vector<v1::Event> resumed = ReadEvents(s, first.back().sequence(), "", 2);
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].vm_name(), "w2");
  EXPECT_EQ(resumed[1].vm_name(), "w3");
  EXPECT_EQ(resumed[0].sequence(), first.back().sequence() + 1);
}

TEST_F(DaemonTest, ConsoleFollowStreamsNewOutput) {
  v1::VmService::Stub* s = stub_.get();
  Create(s, SmallSpec("con", v1::BACKEND_SIM, "counter"));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::StreamConsoleRequest req = Named<v1::StreamConsoleRequest>("con");
  req.set_follow(true);
  // Follow from before the VM ever ran.
  auto reader = s->StreamConsole(&ctx, req);
  v1::Vm vm;
  ASSERT_TRUE(Call(&v1::VmService::Stub::StartVm, s, Named<v1::StartVmRequest>("con"), &vm).ok());
  std::string seen;
  v1::ConsoleChunk chunk;
  uint64_t expected_offset = 0;
  while (seen.find("heartbeat 3 ") == std::string::npos && reader->Read(&chunk)) {
    EXPECT_EQ(chunk.offset(), expected_offset);
    expected_offset += chunk.data().size();
    seen += chunk.data();
  }
  ctx.TryCancel();
  EXPECT_NE(seen.find("heartbeat 3 counter="), std::string::npos) << seen;
}

TEST_F(DaemonTest, HealthCheckingAndReflectionAreOn) {
  grpc::GenericStub generic(daemon_.channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // grpc.health.v1.HealthCheckRequest{service: ""} is empty on the wire;
  // HealthCheckResponse{status: SERVING} is field 1 = 1.
  grpc::ByteBuffer request, response;
  grpc::Slice empty("");
  request = grpc::ByteBuffer(&empty, 1);
  grpc::CompletionQueue cq;
  grpc::Status status;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard l(mu);
                      status = s;
                      done = true;
                      cv.notify_all();
                    });
  std::unique_lock l(mu);
  cv.wait(l, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));

  // Reflection lists our services: ServerReflectionRequest{list_services: ""}
  // is field 7, an empty string.
  grpc::ClientContext rctx;
  rctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto call = generic.PrepareCall(&rctx, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  auto step = [&](intptr_t id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(reinterpret_cast<intptr_t>(tag), id);
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  ASSERT_TRUE(step(1));
  grpc::Slice list_services(std::string("\x3a\x00", 2));
  grpc::ByteBuffer rrequest(&list_services, 1);
  call->Write(rrequest, reinterpret_cast<void*>(2));
  ASSERT_TRUE(step(2));
  grpc::ByteBuffer rresponse;
  call->Read(&rresponse, reinterpret_cast<void*>(3));
  ASSERT_TRUE(step(3));
  slices.clear();
  ASSERT_TRUE(rresponse.Dump(&slices).ok());
  std::string listing;
  for (auto& sl : slices) listing.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  EXPECT_NE(listing.find("vmd.v1.VmService"), std::string::npos);
  EXPECT_NE(listing.find("vmd.v1.HostService"), std::string::npos);
  rctx.TryCancel();
  grpc::Status finish;
  call->Finish(&finish, reinterpret_cast<void*>(4));
  step(4);
}

}  // namespace
}  // namespace vmd::testing

#include "tests/client/fake_vmd.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vmd::testing {
namespace {

google::protobuf::Timestamp ToProto(absl::Time time) {
  google::protobuf::Timestamp timestamp;
  const int64_t nanos = absl::ToUnixNanos(time);
  timestamp.set_seconds(nanos / 1000000000);
  timestamp.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return timestamp;
}

grpc::Status NotFound(const std::string& name) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("vm \"", name, "\" not found"));
}

// Waits, without holding the lock, until the client cancels `context` or the
// server shuts down; counts a client cancellation.
grpc::Status HoldUntilCancelled(grpc::ServerContext* context,
                                FakeState* state) {
  while (!context->IsCancelled()) absl::SleepFor(absl::Milliseconds(5));
  absl::MutexLock lock(&state->mu);
  ++state->cancelled_calls;
  return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
}

bool Matches(const v1::Vm& vm, const v1::ListVmsRequest& request) {
  for (const auto& [key, value] : request.label_selector()) {
    auto it = vm.spec().labels().find(key);
    if (it == vm.spec().labels().end() || it->second != value) return false;
  }
  if (request.states().empty()) return true;
  return std::find(request.states().begin(), request.states().end(),
                   vm.status().state()) != request.states().end();
}

class FakeVmService final : public v1::VmService::Service {
 public:
  explicit FakeVmService(FakeState* state) : state_(state) {}

  grpc::Status CreateVm(grpc::ServerContext*,
                        const v1::CreateVmRequest* request,
                        v1::Vm* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->create_requests.push_back(*request);
    const std::string& name = request->spec().name();
    if (state_->vms.contains(name)) {
      return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                          absl::StrCat("vm \"", name, "\" already exists"));
    }
    v1::Vm vm = MakeVm(name, v1::VM_STATE_CREATED, absl::Now());
    *vm.mutable_spec() = request->spec();
    state_->vms[name] = vm;
    *response = vm;
    return grpc::Status::OK;
  }

  grpc::Status GetVm(grpc::ServerContext*, const v1::GetVmRequest* request,
                     v1::Vm* response) override {
    absl::MutexLock lock(&state_->mu);
    auto it = state_->vms.find(request->name());
    if (it == state_->vms.end()) return NotFound(request->name());
    *response = it->second;
    return grpc::Status::OK;
  }

  grpc::Status ListVms(grpc::ServerContext*,
                       const v1::ListVmsRequest* request,
                       v1::ListVmsResponse* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->list_requests.push_back(*request);
    if (request->page_size() < 0 || request->page_size() > 1000) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_size must be 1-1000");
    }
    const size_t page_size =
        request->page_size() == 0 ? 100 : request->page_size();
    size_t start = 0;
    if (!request->page_token().empty() &&
        !absl::SimpleAtoi(request->page_token(), &start)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "page_token is not from a previous ListVms");
    }
    std::vector<const v1::Vm*> matching;
    for (const auto& [name, vm] : state_->vms) {
      if (Matches(vm, *request)) matching.push_back(&vm);
    }
    for (size_t i = start; i < matching.size() && i < start + page_size; ++i) {
      *response->add_vms() = *matching[i];
    }
    if (start + page_size < matching.size()) {
      response->set_next_page_token(absl::StrCat(start + page_size));
    }
    // Grows with each page, so a client can tell which page's it kept.
    response->set_head_sequence(100 + state_->list_requests.size());
    if (!state_->stuck_page_token.empty()) {
      response->set_next_page_token(state_->stuck_page_token);
    }
    return grpc::Status::OK;
  }

  grpc::Status StartVm(grpc::ServerContext*,
                       const v1::StartVmRequest* request,
                       v1::Vm* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->start_requests.push_back(*request);
    auto it = state_->vms.find(request->name());
    if (it == state_->vms.end()) return NotFound(request->name());
    v1::Vm& vm = it->second;
    const v1::VmState state = vm.status().state();
    if (state != v1::VM_STATE_CREATED && state != v1::VM_STATE_STOPPED &&
        state != v1::VM_STATE_CRASHED) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("vm \"", request->name(), "\" is ",
                       v1::VmState_Name(state).substr(9),
                       "; StartVm needs CREATED, STOPPED or CRASHED"));
    }
    vm.mutable_status()->set_state(v1::VM_STATE_RUNNING);
    vm.mutable_status()->set_engine_pid(4242);
    *response = vm;
    return grpc::Status::OK;
  }

  // Never answers: for deadlines and interrupts.
  grpc::Status PauseVm(grpc::ServerContext* context,
                       const v1::PauseVmRequest*, v1::Vm*) override {
    {
      absl::MutexLock lock(&state_->mu);
      ++state_->pause_calls;
    }
    return HoldUntilCancelled(context, state_);
  }

  // The daemon itself answers UNAVAILABLE (its engine is gone).
  grpc::Status ResumeVm(grpc::ServerContext*,
                        const v1::ResumeVmRequest* request,
                        v1::Vm*) override {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        absl::StrCat("engine of vm \"", request->name(),
                                     "\" is not answering"));
  }

  grpc::Status StopVm(grpc::ServerContext*, const v1::StopVmRequest* request,
                      v1::Vm* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->stop_requests.push_back(*request);
    auto it = state_->vms.find(request->name());
    if (it == state_->vms.end()) return NotFound(request->name());
    it->second.mutable_status()->set_state(v1::VM_STATE_STOPPED);
    it->second.mutable_status()->set_engine_pid(0);
    *response = it->second;
    return grpc::Status::OK;
  }

  grpc::Status DeleteVm(grpc::ServerContext*,
                        const v1::DeleteVmRequest* request,
                        v1::DeleteVmResponse*) override {
    absl::MutexLock lock(&state_->mu);
    if (state_->vms.erase(request->name()) == 0) {
      return NotFound(request->name());
    }
    return grpc::Status::OK;
  }

  grpc::Status WatchEvents(grpc::ServerContext* context,
                           const v1::WatchEventsRequest* request,
                           grpc::ServerWriter<v1::Event>* writer) override {
    std::vector<v1::Event> backlog;
    StreamMode mode;
    uint64_t last_sequence = request->after_sequence();
    {
      absl::MutexLock lock(&state_->mu);
      ++state_->watch_calls;
      if (state_->first_retained_sequence > request->after_sequence() + 1) {
        return grpc::Status(
            grpc::StatusCode::OUT_OF_RANGE,
            absl::StrCat("events after ", request->after_sequence(),
                         " are no longer retained; the oldest is ",
                         state_->first_retained_sequence));
      }
      for (const v1::Event& event : state_->events) {
        if (event.sequence() <= request->after_sequence()) continue;
        if (!request->vm_name().empty() &&
            event.vm_name() != request->vm_name()) {
          continue;
        }
        backlog.push_back(event);
      }
      mode = state_->stream_mode;
      if (!state_->events.empty()) {
        last_sequence =
            std::max(last_sequence, state_->events.back().sequence());
      }
    }
    for (const v1::Event& event : backlog) {
      if (!writer->Write(event)) return HoldUntilCancelled(context, state_);
    }
    switch (mode) {
      case StreamMode::kEnd:
        return grpc::Status::OK;
      case StreamMode::kHoldOpen:
        return HoldUntilCancelled(context, state_);
      case StreamMode::kEndless:
        while (!context->IsCancelled()) {
          v1::Event event;
          event.set_sequence(++last_sequence);
          event.set_type(v1::EVENT_TYPE_STATE_CHANGED);
          event.set_vm_name("endless");
          if (!writer->Write(event)) break;
          absl::SleepFor(absl::Milliseconds(1));
        }
        return HoldUntilCancelled(context, state_);
    }
    return grpc::Status::OK;
  }

  grpc::Status StreamConsole(
      grpc::ServerContext* context, const v1::StreamConsoleRequest* request,
      grpc::ServerWriter<v1::ConsoleChunk>* writer) override {
    std::string log;
    {
      absl::MutexLock lock(&state_->mu);
      ++state_->console_calls;
      auto it = state_->consoles.find(request->name());
      if (it == state_->consoles.end()) return NotFound(request->name());
      log = it->second;
    }
    // Small chunks, so that clients must concatenate.
    for (uint64_t offset = request->offset(); offset < log.size();
         offset += 4) {
      v1::ConsoleChunk chunk;
      chunk.set_offset(offset);
      chunk.set_data(log.substr(offset, 4));
      if (!writer->Write(chunk)) return HoldUntilCancelled(context, state_);
    }
    if (request->follow()) return HoldUntilCancelled(context, state_);
    return grpc::Status::OK;
  }

 private:
  FakeState* state_;
};

class FakeHostService final : public v1::HostService::Service {
 public:
  explicit FakeHostService(FakeState* state) : state_(state) {}

  grpc::Status GetHostInfo(grpc::ServerContext*, const v1::GetHostInfoRequest*,
                           v1::HostInfo* response) override {
    absl::MutexLock lock(&state_->mu);
    *response = state_->host_info;
    return grpc::Status::OK;
  }

 private:
  FakeState* state_;
};

class FakeProbeService final : public v1::ProbeService::Service {
 public:
  explicit FakeProbeService(FakeState* state) : state_(state) {}

  grpc::Status RunProbe(grpc::ServerContext*,
                        const v1::RunProbeRequest* request,
                        v1::RunProbeResponse* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->probe_requests.push_back(*request);
    const v1::Vm* vm = nullptr;
    if (grpc::Status status = ProbeableVm(request->name(), &vm);
        !status.ok()) {
      return status;
    }
    *response = state_->probe_response;
    return grpc::Status::OK;
  }

  grpc::Status RunGuestBench(grpc::ServerContext*,
                             const v1::RunGuestBenchRequest* request,
                             v1::GuestBenchReport* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->bench_requests.push_back(*request);
    const v1::Vm* vm = nullptr;
    if (grpc::Status status = ProbeableVm(request->name(), &vm);
        !status.ok()) {
      return status;
    }
    if (vm->status().backend() != v1::BACKEND_KVM) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("vm \"", request->name(),
                       "\" runs on sim; guest micro-benchmarks time real VM "
                       "exits and need kvm"));
    }
    *response = state_->bench_report;
    return grpc::Status::OK;
  }

 private:
  // vmd's rules (daemon/probe_service.cc), with its messages.
  grpc::Status ProbeableVm(const std::string& name, const v1::Vm** vm)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(state_->mu) {
    auto it = state_->vms.find(name);
    if (it == state_->vms.end()) return NotFound(name);
    *vm = &it->second;
    const v1::VmState state = it->second.status().state();
    if (state != v1::VM_STATE_RUNNING) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("vm \"", name, "\" is ",
                       absl::AsciiStrToLower(v1::VmState_Name(state).substr(9)),
                       "; probes need state running"));
    }
    if (it->second.spec().workload() != "probe") {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("vm \"", name, "\" runs workload ",
                       it->second.spec().workload(),
                       "; probes need workload probe"));
    }
    return grpc::Status::OK;
  }

  FakeState* state_;
};

// vmd's MsrService as far as clients can tell: NOT_FOUND for a missing VM,
// INVALID_ARGUMENT (naming the field, with backend/msr's messages) for what
// it refuses, the policy as stored (a preset expanded) in the response.
class FakeMsrService final : public v1::MsrService::Service {
 public:
  explicit FakeMsrService(FakeState* state) : state_(state) {}

  grpc::Status SetMsrPolicy(grpc::ServerContext*,
                            const v1::SetMsrPolicyRequest* request,
                            v1::SetMsrPolicyResponse* response) override {
    absl::MutexLock lock(&state_->mu);
    state_->set_msr_policy_requests.push_back(*request);
    if (!state_->vms.contains(request->name())) {
      return NotFound(request->name());
    }
    v1::MsrPolicy policy;
    switch (request->source_case()) {
      case v1::SetMsrPolicyRequest::kPolicy:
        policy = request->policy();
        break;
      case v1::SetMsrPolicyRequest::kPreset: {
        const std::string& preset = request->preset();
        if (preset != "default" && preset != "strict" &&
            preset != "platform-compat") {
          return Invalid(
              absl::StrCat("preset: unknown preset \"", preset,
                           "\"; expected default, strict or platform-compat"));
        }
        policy = state_->msr_presets[preset];
        policy.set_preset(preset);
        break;
      }
      case v1::SetMsrPolicyRequest::SOURCE_NOT_SET:
        return Invalid("source: set policy or preset");
    }
    for (int i = 0; i < policy.rules_size(); ++i) {
      if (policy.rules(i).count() == 0) {
        return Invalid(
            absl::StrCat("rules[", i, "].count: must be at least 1"));
      }
    }
    state_->msr_policies[request->name()] = policy;
    *response->mutable_policy() = policy;
    *response->mutable_filter() = state_->msr_filter;
    for (const std::string& warning : state_->msr_warnings) {
      response->add_warnings(warning);
    }
    return grpc::Status::OK;
  }

  grpc::Status GetMsrPolicy(grpc::ServerContext*,
                            const v1::GetMsrPolicyRequest* request,
                            v1::MsrPolicy* response) override {
    absl::MutexLock lock(&state_->mu);
    ++state_->get_msr_policy_calls;
    if (!state_->vms.contains(request->name())) {
      return NotFound(request->name());
    }
    auto it = state_->msr_policies.find(request->name());
    if (it != state_->msr_policies.end()) *response = it->second;
    return grpc::Status::OK;
  }

  grpc::Status GetMsrStats(grpc::ServerContext*,
                           const v1::GetMsrStatsRequest* request,
                           v1::MsrStats* response) override {
    absl::MutexLock lock(&state_->mu);
    ++state_->get_msr_stats_calls;
    auto vm = state_->vms.find(request->name());
    if (vm == state_->vms.end()) return NotFound(request->name());
    const v1::VmState state = vm->second.status().state();
    if (state != v1::VM_STATE_RUNNING) {
      return grpc::Status(
          grpc::StatusCode::FAILED_PRECONDITION,
          absl::StrCat("vm \"", request->name(), "\" is ",
                       absl::AsciiStrToLower(v1::VmState_Name(state).substr(9)),
                       "; MSR stats need state running"));
    }
    auto stats = state_->msr_stats.find(request->name());
    if (stats != state_->msr_stats.end()) *response = stats->second;
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Invalid(const std::string& message) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
  }

  FakeState* state_;
};

}  // namespace

v1::Vm MakeVm(const std::string& name, v1::VmState state,
              absl::Time created_at) {
  v1::Vm vm;
  vm.set_id(absl::StrCat("id-", name));
  vm.mutable_spec()->set_name(name);
  vm.mutable_spec()->set_vcpus(1);
  vm.mutable_spec()->set_memory_mib(128);
  vm.mutable_spec()->set_backend(v1::BACKEND_AUTO);
  vm.mutable_status()->set_state(state);
  *vm.mutable_status()->mutable_created_at() = ToProto(created_at);
  return vm;
}

FakeVmd::FakeVmd() : state_(std::make_unique<FakeState>()) {
  char dir_template[] = "/tmp/vmd-client-test.XXXXXX";
  const char* dir = mkdtemp(dir_template);
  if (dir == nullptr) {
    perror("mkdtemp");
    abort();
  }
  dir_ = dir;
  address_ = absl::StrCat("unix:", dir_, "/vmd.sock");

  vm_service_ = std::make_unique<FakeVmService>(state_.get());
  host_service_ = std::make_unique<FakeHostService>(state_.get());
  probe_service_ = std::make_unique<FakeProbeService>(state_.get());
  msr_service_ = std::make_unique<FakeMsrService>(state_.get());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address_, grpc::InsecureServerCredentials());
  builder.RegisterService(vm_service_.get());
  builder.RegisterService(host_service_.get());
  builder.RegisterService(probe_service_.get());
  builder.RegisterService(msr_service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    fprintf(stderr, "cannot listen on %s\n", address_.c_str());
    abort();
  }
}

FakeVmd::~FakeVmd() {
  // Calls still open are cancelled once the deadline passes.
  server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
  server_->Wait();
  unlink(absl::StrCat(dir_, "/vmd.sock").c_str());
  rmdir(dir_.c_str());
}

bool FakeVmd::WaitFor(bool (*condition)(const FakeState&),
                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    {
      absl::MutexLock lock(&state_->mu);
      if (condition(*state_)) return true;
    }
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

}  // namespace vmd::testing

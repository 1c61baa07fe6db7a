#include "daemon/core/vm_manager.h"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/rpc/proto_json.h"
#include "daemon/engine/engine_client.h"
#include "daemon/host/host_inventory.h"
#include "daemon/core/msr_policy.h"
#include "daemon/core/validation.h"
#include "google/protobuf/util/time_util.h"
#include "vmd/engine/v1/engine_config.pb.h"
#include "vmd/engine/v1/exit_record.pb.h"

namespace vmd::daemon {
namespace {

using google::protobuf::util::TimeUtil;
using std::chrono::milliseconds;

constexpr milliseconds kEngineReadyTimeout{10000};
constexpr milliseconds kEngineCallDeadline{10000};
// How long an engine gets to exit after it answered Stop, before SIGKILL.
constexpr milliseconds kEngineExitGrace{5000};
constexpr char kPageTokenPrefix[] = "vmd-page:";

std::string NewVmId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
}

absl::Status NotFound(const std::string& name) {
  return absl::NotFoundError(absl::StrCat("vm \"", name, "\" not found"));
}

// What the engine wrote to exit.json when it ended (backend/engine/main.cc);
// kind UNSPECIFIED when there is none (or it cannot be read).
engine::v1::ExitRecord ReadExitFile(const std::string& runtime_dir) {
  std::ifstream in(runtime_dir + "/exit.json");
  if (!in) return {};
  std::stringstream text;
  text << in.rdbuf();
  engine::v1::ExitRecord record;
  if (!rpc::FromJson(text.str(), &record).ok()) return {};
  return record;
}

// Whether `pid` is the engine started with this runtime dir, and not a
// process that happens to have reused its pid.
bool IsEngineOf(pid_t pid, const std::string& runtime_dir) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/cmdline"));
  std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return cmdline.find(runtime_dir + "/config.json") != std::string::npos;
}

v1::VmState FromEngineState(engine::v1::EngineState state) {
  switch (state) {
    case engine::v1::ENGINE_STATE_RUNNING: return v1::VM_STATE_RUNNING;
    case engine::v1::ENGINE_STATE_PAUSED: return v1::VM_STATE_PAUSED;
    default: return v1::VM_STATE_UNSPECIFIED;  // stopping or crashed: its exit will say
  }
}

v1::Backend BackendFromName(const std::string& name) { return name == "kvm" ? v1::BACKEND_KVM : v1::BACKEND_SIM; }

bool Matches(const v1::Vm& vm, const v1::ListVmsRequest& request) {
  for (const auto& [key, value] : request.label_selector()) {
    auto it = vm.spec().labels().find(key);
    if (it == vm.spec().labels().end() || it->second != value) return false;
  }
  if (request.states().empty()) return true;
  for (int s : request.states()) {
    if (s == vm.status().state()) return true;
  }
  return false;
}

}  // namespace

VmManager::VmManager(const ManagerOptions& options, v1::HostInfo host, std::unique_ptr<Store> store)
    : options_(options), host_(std::move(host)), store_(std::move(store)), events_(Store::kRetainedEvents) {
  supervisor_ = std::make_unique<EngineSupervisor>(
      options_.engine_path,
      [this](const std::string& name, pid_t pid, const EngineExit& exit) { OnEngineExit(name, pid, exit); });
}

absl::StatusOr<std::unique_ptr<VmManager>> VmManager::Open(const ManagerOptions& options, v1::HostInfo host) {
  std::error_code ec;
  std::filesystem::create_directories(options.state_dir + "/vms", ec);
  if (ec) return absl::UnavailableError(absl::StrCat("state dir ", options.state_dir, ": ", ec.message()));
  auto store = Store::Open(options.state_dir + "/vmd.db");
  if (!store.ok()) return store.status();
  std::unique_ptr<VmManager> manager(new VmManager(options, std::move(host), *std::move(store)));
  if (absl::Status s = manager->Recover(); !s.ok()) return s;
  return manager;
}

std::string VmManager::RuntimeDir(const v1::Vm& vm) const { return absl::StrCat(options_.state_dir, "/vms/", vm.id()); }
std::string VmManager::EngineSocket(const v1::Vm& vm) const { return RuntimeDir(vm) + "/engine.sock"; }
std::string VmManager::ConsolePath(const v1::Vm& vm) const { return RuntimeDir(vm) + "/console.log"; }

absl::Status VmManager::CommitAndPublish(Mutation& mutation) {
  std::lock_guard lock(commit_mu_);
  if (absl::Status s = store_->Commit(mutation); !s.ok()) return s;
  for (const v1::Event& e : mutation.events) events_.Publish(e);
  return absl::OkStatus();
}

absl::Status VmManager::Transition(v1::Vm& vm, v1::VmState state, const std::string& message,
                                   const std::string& request_id, const char* method) {
  v1::Vm next = vm;
  auto now = TimeUtil::GetCurrentTime();
  next.mutable_status()->set_state(state);
  *next.mutable_status()->mutable_state_changed_at() = now;
  Mutation m;
  m.put.push_back(next);
  m.events.push_back(MakeVmEvent(vm, v1::EVENT_TYPE_STATE_CHANGED, state, message, now));
  if (!request_id.empty()) m.request = RequestRecord{request_id, method, vm.spec().name(), next.SerializeAsString()};
  if (absl::Status s = CommitAndPublish(m); !s.ok()) return s;
  vm = std::move(next);
  registry_.Put(vm);
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> VmManager::Replay(const std::string& request_id, const char* method,
                                                             const std::string& name) {
  if (request_id.empty()) return std::nullopt;
  auto record = store_->FindRequest(request_id);
  if (!record.ok()) return record.status();
  if (!*record) return std::nullopt;
  if ((*record)->method != method || (*record)->vm_name != name) {
    return absl::InvalidArgumentError(absl::StrCat("request_id: \"", request_id, "\" was already used for ",
                                                   (*record)->method, " of vm \"", (*record)->vm_name, "\""));
  }
  return (*record)->response;
}

absl::StatusOr<v1::Vm> VmManager::CreateVm(const v1::CreateVmRequest& request) {
  const v1::VmSpec& spec = request.spec();
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  if (absl::Status s = ValidateName("spec.name", spec.name()); !s.ok()) return s;
  VmRegistry::OpLock lock = registry_.Lock(spec.name());
  auto replay = Replay(request.request_id(), "CreateVm", spec.name());
  if (!replay.ok()) return replay.status();
  v1::Vm vm;
  if (*replay && vm.ParseFromString(**replay)) return vm;

  if (absl::Status s = ValidateVmSpec(spec, host_); !s.ok()) return s;
  if (registry_.Get(spec.name())) {
    return absl::AlreadyExistsError(absl::StrCat("spec.name: vm \"", spec.name(), "\" already exists"));
  }
  vm.set_id(NewVmId());
  *vm.mutable_spec() = spec;
  if (vm.spec().backend() == v1::BACKEND_UNSPECIFIED) vm.mutable_spec()->set_backend(v1::BACKEND_AUTO);
  if (vm.spec().workload().empty()) vm.mutable_spec()->set_workload("idle");
  auto now = TimeUtil::GetCurrentTime();
  vm.mutable_status()->set_state(v1::VM_STATE_CREATED);
  *vm.mutable_status()->mutable_created_at() = now;
  *vm.mutable_status()->mutable_state_changed_at() = now;

  Mutation m;
  m.put.push_back(vm);
  v1::Event created = MakeVmEvent(vm, v1::EVENT_TYPE_CREATED, v1::VM_STATE_CREATED, "", now);
  created.clear_old_state();  // there was no state before
  m.events.push_back(std::move(created));
  if (!request.request_id().empty()) {
    m.request = RequestRecord{request.request_id(), "CreateVm", spec.name(), vm.SerializeAsString()};
  }
  if (absl::Status s = CommitAndPublish(m); !s.ok()) return s;
  registry_.Put(vm);
  return vm;
}

absl::StatusOr<v1::Vm> VmManager::GetVm(const std::string& name) {
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  std::optional<v1::Vm> vm = registry_.Get(name);
  if (!vm) return NotFound(name);
  return *vm;
}

absl::StatusOr<v1::ListVmsResponse> VmManager::ListVms(const v1::ListVmsRequest& request) {
  if (absl::Status s = ValidateListRequest(request); !s.ok()) return s;
  std::string after;
  if (!request.page_token().empty()) {
    std::string token;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &token) || !absl::StartsWith(token, kPageTokenPrefix)) {
      return absl::InvalidArgumentError("page_token: not a token returned by ListVms");
    }
    after = token.substr(sizeof(kPageTokenPrefix) - 1);
  }
  const size_t limit = request.page_size() == 0 ? kDefaultPageSize : static_cast<size_t>(request.page_size());
  bool more = false;
  std::vector<v1::Vm> vms = registry_.List(after, limit, [&](const v1::Vm& vm) { return Matches(vm, request); }, &more);
  v1::ListVmsResponse response;
  for (v1::Vm& vm : vms) *response.add_vms() = std::move(vm);
  if (more) {
    response.set_next_page_token(
        absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, response.vms().rbegin()->spec().name())));
  }
  return response;
}

template <typename Request>
absl::StatusOr<v1::Vm> VmManager::Operate(const Request& request, const char* method, VmOp op,
                                          const std::function<absl::StatusOr<v1::Vm>(v1::Vm&)>& act) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  VmRegistry::OpLock lock = registry_.Lock(request.name());
  auto replay = Replay(request.request_id(), method, request.name());
  if (!replay.ok()) return replay.status();
  v1::Vm vm;
  if (*replay && vm.ParseFromString(**replay)) return vm;
  std::optional<v1::Vm> current = registry_.Get(request.name());
  if (!current) return NotFound(request.name());
  if (absl::Status s = CheckOperation(request.name(), current->status().state(), op); !s.ok()) return s;
  return act(*current);
}

absl::StatusOr<v1::Vm> VmManager::StartVm(const v1::StartVmRequest& request) {
  return Operate(request, "StartVm", VmOp::kStart,
                 [&](v1::Vm& vm) { return Start(vm, request.request_id()); });
}

absl::StatusOr<v1::Vm> VmManager::Start(v1::Vm& vm, const std::string& request_id) {
  const std::string& name = vm.spec().name();
  const std::string effective = EffectiveBackend(vm.spec(), host_);
  for (const v1::BackendInfo& b : host_.backends()) {
    if (b.name() == effective && !b.usable()) {
      return absl::FailedPreconditionError(
          absl::StrCat("spec.backend: ", effective, " is not usable on this host: ", b.reason()));
    }
  }

  const std::string dir = RuntimeDir(vm);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::filesystem::remove(dir + "/exit.json", ec);
  engine::v1::EngineConfig config;
  config.set_api_version(engine::v1::API_VERSION_1);
  config.set_vm_id(vm.id());
  config.set_name(name);
  config.set_vcpus(vm.spec().vcpus());
  config.set_memory_mib(vm.spec().memory_mib());
  // vmd resolves auto, so the engine runs what was checked here.
  config.set_backend(effective == "kvm" ? v1::BACKEND_KVM : v1::BACKEND_SIM);
  config.set_sim_profile(vm.spec().sim_profile());
  config.set_workload(vm.spec().workload());
  config.set_heartbeat_ms(options_.heartbeat_ms);
  config.set_runtime_dir(dir);
  if (vm.spec().has_msr_policy()) *config.mutable_msr_policy() = vm.spec().msr_policy();
  {
    std::ofstream out(dir + "/config.json", std::ios::trunc);
    out << rpc::ToJson(config, /*multiline=*/true);
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", dir, "/config.json"));
  }

  int ready_fd = -1;
  absl::StatusOr<pid_t> pid = supervisor_->Spawn(name, dir + "/config.json", dir + "/engine.log", &ready_fd);
  if (!pid.ok()) return absl::InternalError(absl::StrCat("vm \"", name, "\": ", pid.status().message()));

  // The pid is committed before the engine is waited for, so that a vmd
  // restart in between finds and adopts it.
  vm.mutable_status()->set_engine_pid(*pid);
  vm.mutable_status()->clear_exit();
  vm.mutable_status()->clear_last_error();
  if (absl::Status s = Transition(vm, v1::VM_STATE_STARTING, absl::StrCat("engine pid ", *pid)); !s.ok()) {
    supervisor_->Kill(*pid, SIGKILL);
    return s;
  }

  absl::Status ready = supervisor_->WaitReady(*pid, ready_fd, kEngineReadyTimeout);
  absl::StatusOr<engine::v1::EngineStatus> status =
      ready.ok() ? EngineClient(EngineSocket(vm)).GetStatus(kEngineCallDeadline) : ready;
  if (!status.ok()) {
    supervisor_->Kill(*pid, SIGKILL);
    std::optional<EngineExit> exit = supervisor_->WaitForExit(*pid, kEngineExitGrace);
    engine::v1::ExitRecord file = ReadExitFile(dir);
    std::string reason = file.reason().empty() ? std::string(status.status().message()) : file.reason();
    v1::ExitStatus* es = vm.mutable_status()->mutable_exit();
    if (exit) {
      es->set_code(exit->code);
      es->set_signal(exit->signal);
    }
    es->set_reason(reason);
    vm.mutable_status()->set_engine_pid(0);
    vm.mutable_status()->set_last_error(reason);
    if (absl::Status s = Transition(vm, v1::VM_STATE_CRASHED, absl::StrCat("engine failed to start: ", reason));
        !s.ok()) {
      return s;
    }
    return absl::InternalError(absl::StrCat("vm \"", name, "\": engine failed to start: ", reason));
  }

  vm.mutable_status()->set_backend(BackendFromName(status->backend()));
  *vm.mutable_status()->mutable_started_at() = TimeUtil::GetCurrentTime();
  if (absl::Status s = Transition(vm, v1::VM_STATE_RUNNING, absl::StrCat("running on ", status->backend()),
                                  request_id, "StartVm");
      !s.ok()) {
    return s;
  }
  return vm;
}

absl::StatusOr<v1::Vm> VmManager::PauseVm(const v1::PauseVmRequest& request) {
  return Operate(request, "PauseVm", VmOp::kPause, [&](v1::Vm& vm) -> absl::StatusOr<v1::Vm> {
    auto status = EngineClient(EngineSocket(vm)).Pause(kEngineCallDeadline);
    if (!status.ok()) return status.status();
    if (absl::Status s = Transition(vm, v1::VM_STATE_PAUSED, "", request.request_id(), "PauseVm"); !s.ok()) return s;
    return vm;
  });
}

absl::StatusOr<v1::Vm> VmManager::ResumeVm(const v1::ResumeVmRequest& request) {
  return Operate(request, "ResumeVm", VmOp::kResume, [&](v1::Vm& vm) -> absl::StatusOr<v1::Vm> {
    auto status = EngineClient(EngineSocket(vm)).Resume(kEngineCallDeadline);
    if (!status.ok()) return status.status();
    if (absl::Status s = Transition(vm, v1::VM_STATE_RUNNING, "", request.request_id(), "ResumeVm"); !s.ok()) return s;
    return vm;
  });
}

absl::StatusOr<v1::Vm> VmManager::StopVm(const v1::StopVmRequest& request) {
  if (absl::Status s = ValidateStopRequest(request); !s.ok()) return s;
  return Operate(request, "StopVm", VmOp::kStop, [&](v1::Vm& vm) { return Stop(vm, request); });
}

absl::StatusOr<v1::Vm> VmManager::Stop(v1::Vm& vm, const v1::StopVmRequest& request) {
  const uint32_t timeout_ms = request.timeout_ms() == 0 ? kDefaultStopTimeoutMs : request.timeout_ms();
  // A paused guest cannot answer a power-off request: it is forced.
  const bool force = request.force() || vm.status().state() == v1::VM_STATE_PAUSED;
  const pid_t pid = vm.status().engine_pid();
  if (absl::Status s = Transition(vm, v1::VM_STATE_STOPPING, force ? "forced power-off" : "power-off requested");
      !s.ok()) {
    return s;
  }
  absl::StatusOr<bool> graceful =
      EngineClient(EngineSocket(vm)).Stop(timeout_ms, force, milliseconds(timeout_ms) + kEngineCallDeadline);
  std::optional<EngineExit> exit = supervisor_->WaitForExit(pid, kEngineExitGrace);
  if (!exit) {
    supervisor_->Kill(pid, SIGKILL);
    exit = supervisor_->WaitForExit(pid, kEngineExitGrace);
  }
  std::string message;
  if (!graceful.ok()) {
    message = absl::StrCat("engine did not answer stop (", graceful.status().message(), "); killed");
  } else if (*graceful) {
    message = "guest powered off";
  } else {
    message = force ? "powered off" : absl::StrCat("forced off after ", timeout_ms, " ms");
  }
  v1::ExitStatus* es = vm.mutable_status()->mutable_exit();
  es->Clear();
  if (exit) {
    es->set_code(exit->code);
    es->set_signal(exit->signal);
  }
  es->set_reason(message);
  vm.mutable_status()->set_engine_pid(0);
  if (absl::Status s = Transition(vm, v1::VM_STATE_STOPPED, message, request.request_id(), "StopVm"); !s.ok()) return s;
  return vm;
}

absl::StatusOr<v1::DeleteVmResponse> VmManager::DeleteVm(const v1::DeleteVmRequest& request) {
  v1::DeleteVmResponse response;
  std::string runtime_dir;
  auto deleted = Operate(request, "DeleteVm", VmOp::kDelete, [&](v1::Vm& vm) -> absl::StatusOr<v1::Vm> {
    Mutation m;
    m.delete_ids.push_back(vm.id());
    m.events.push_back(
        MakeVmEvent(vm, v1::EVENT_TYPE_DELETED, v1::VM_STATE_UNSPECIFIED, "", TimeUtil::GetCurrentTime()));
    if (!request.request_id().empty()) {
      m.request = RequestRecord{request.request_id(), "DeleteVm", vm.spec().name(), response.SerializeAsString()};
    }
    if (absl::Status s = CommitAndPublish(m); !s.ok()) return s;
    registry_.Remove(vm.spec().name());
    runtime_dir = RuntimeDir(vm);
    return vm;
  });
  if (!deleted.ok()) return deleted.status();
  std::error_code ec;
  if (!runtime_dir.empty()) std::filesystem::remove_all(runtime_dir, ec);  // best effort, after the commit
  return response;
}

absl::StatusOr<v1::SetMsrPolicyResponse> VmManager::SetMsrPolicy(const v1::SetMsrPolicyRequest& request) {
  if (absl::Status s = ValidateName("name", request.name()); !s.ok()) return s;
  if (absl::Status s = ValidateRequestId(request.request_id()); !s.ok()) return s;
  VmRegistry::OpLock lock = registry_.Lock(request.name());
  auto replay = Replay(request.request_id(), "SetMsrPolicy", request.name());
  if (!replay.ok()) return replay.status();
  v1::SetMsrPolicyResponse response;
  if (*replay && response.ParseFromString(**replay)) return response;
  std::optional<v1::Vm> vm = registry_.Get(request.name());
  if (!vm) return NotFound(request.name());

  absl::StatusOr<v1::MsrPolicy> policy = ResolveMsrPolicy(request, vm->spec(), host_);
  if (!policy.ok()) return policy.status();
  absl::StatusOr<msr::CompiledMsrPolicy> compiled = CompileForVm(*policy, vm->spec(), "policy");
  if (!compiled.ok()) return compiled.status();
  *response.mutable_policy() = *policy;
  *response.mutable_filter() = compiled->Summary();
  for (const std::string& w : compiled->warnings) response.add_warnings(w);

  const v1::VmState state = vm->status().state();
  if (state == v1::VM_STATE_RUNNING || state == v1::VM_STATE_PAUSED) {
    // The engine installs it first: if that fails, nothing has changed.
    auto applied = EngineClient(EngineSocket(*vm)).SetMsrPolicy(*policy, kEngineCallDeadline);
    if (!applied.ok()) return applied.status();
  }
  v1::Vm next = *vm;
  *next.mutable_spec()->mutable_msr_policy() = *policy;
  Mutation m;
  m.put.push_back(next);
  m.events.push_back(MakeVmEvent(*vm, v1::EVENT_TYPE_MSR_POLICY_CHANGED, state,
                                 policy->preset().empty()
                                     ? absl::StrCat("msr policy: ", policy->rules_size(), " rule(s)")
                                     : absl::StrCat("msr policy: preset ", policy->preset()),
                                 TimeUtil::GetCurrentTime()));
  if (!request.request_id().empty()) {
    m.request = RequestRecord{request.request_id(), "SetMsrPolicy", vm->spec().name(), response.SerializeAsString()};
  }
  if (absl::Status s = CommitAndPublish(m); !s.ok()) return s;
  registry_.Put(next);
  return response;
}

absl::StatusOr<v1::MsrStats> VmManager::GetMsrStats(const std::string& name) {
  absl::StatusOr<v1::Vm> vm = GetVm(name);
  if (!vm.ok()) return vm.status();
  if (vm->status().state() != v1::VM_STATE_RUNNING && vm->status().state() != v1::VM_STATE_PAUSED) {
    return absl::FailedPreconditionError(absl::StrCat("vm \"", name, "\" is ", StateName(vm->status().state()),
                                                      "; MSR counters exist while it runs"));
  }
  return EngineClient(EngineSocket(*vm)).GetMsrStats(kEngineCallDeadline);
}

absl::Status VmManager::RecordEvents(std::vector<v1::Event> events) {
  if (events.empty()) return absl::OkStatus();
  Mutation m;
  m.events = std::move(events);
  return CommitAndPublish(m);
}

void VmManager::OnEngineExit(const std::string& name, pid_t pid, const EngineExit& exit) {
  VmRegistry::OpLock lock = registry_.Lock(name);
  std::optional<v1::Vm> vm = registry_.Get(name);
  // An operation that already accounted for this exit has cleared the pid.
  if (!vm || vm->status().engine_pid() != pid || !HasEngine(vm->status().state())) return;
  engine::v1::ExitRecord file = ReadExitFile(RuntimeDir(*vm));
  v1::ExitStatus* es = vm->mutable_status()->mutable_exit();
  es->Clear();
  es->set_code(exit.code);
  es->set_signal(exit.signal);
  es->set_register_dump(file.register_dump());
  vm->mutable_status()->set_engine_pid(0);
  const bool powered_off =
      exit.known && exit.code == 0 && exit.signal == 0 && file.kind() == engine::v1::EXIT_KIND_STOPPED;
  if (powered_off || vm->status().state() == v1::VM_STATE_STOPPING) {
    es->set_reason(powered_off ? "guest powered off" : absl::StrCat("engine ", exit.Describe(), " while stopping"));
    Transition(*vm, v1::VM_STATE_STOPPED, es->reason()).IgnoreError();
    return;
  }
  std::string reason = file.kind() == engine::v1::EXIT_KIND_CRASHED || file.kind() == engine::v1::EXIT_KIND_FAILED
                           ? absl::StrCat(file.reason(), " (engine ", exit.Describe(), ")")
                           : absl::StrCat("engine ", exit.Describe());
  es->set_reason(reason);
  vm->mutable_status()->set_last_error(reason);
  Transition(*vm, v1::VM_STATE_CRASHED, reason).IgnoreError();
}

absl::Status VmManager::Recover() {
  auto events = store_->LoadEvents(Store::kRetainedEvents);
  if (!events.ok()) return events.status();
  for (const v1::Event& e : *events) events_.Publish(e);
  auto vms = store_->LoadVms();
  if (!vms.ok()) return vms.status();
  for (const v1::Vm& vm : *vms) registry_.Put(vm);
  for (const v1::Vm& vm : *vms) {
    if (HasEngine(vm.status().state())) RecoverVm(vm);
  }
  return absl::OkStatus();
}

void VmManager::RecoverVm(v1::Vm vm) {
  VmRegistry::OpLock lock = registry_.Lock(vm.spec().name());
  const pid_t pid = vm.status().engine_pid();
  if (pid > 0 && IsEngineOf(pid, RuntimeDir(vm)) && supervisor_->Adopt(vm.spec().name(), pid).ok()) {
    auto status = EngineClient(EngineSocket(vm)).GetStatus(kEngineCallDeadline);
    if (status.ok()) {
      v1::VmState actual = FromEngineState(status->state());
      // The store is the truth: a policy change whose commit a crash cut
      // off is undone on the engine.
      if (vm.spec().has_msr_policy()) {
        EngineClient(EngineSocket(vm)).SetMsrPolicy(vm.spec().msr_policy(), kEngineCallDeadline).IgnoreError();
      }
      if (actual != v1::VM_STATE_UNSPECIFIED && actual != vm.status().state()) {
        vm.mutable_status()->set_backend(BackendFromName(status->backend()));
        Transition(vm, actual, "reconciled with its engine after a vmd restart").IgnoreError();
      }
      return;  // an engine that is ending is reported by its exit
    }
    // Alive but not answering: it cannot be controlled, so it is ended.
    supervisor_->Kill(pid, SIGKILL);
    vm.mutable_status()->set_engine_pid(0);
    std::string reason = absl::StrCat("engine pid ", pid, " did not answer after a vmd restart (",
                                      status.status().message(), "); killed");
    vm.mutable_status()->mutable_exit()->set_reason(reason);
    vm.mutable_status()->set_last_error(reason);
    Transition(vm, v1::VM_STATE_CRASHED, reason).IgnoreError();
    return;
  }
  engine::v1::ExitRecord file = ReadExitFile(RuntimeDir(vm));
  vm.mutable_status()->set_engine_pid(0);
  if (vm.status().state() == v1::VM_STATE_STOPPING || file.kind() == engine::v1::EXIT_KIND_STOPPED) {
    vm.mutable_status()->mutable_exit()->set_reason("engine ended while vmd was down");
    Transition(vm, v1::VM_STATE_STOPPED, "engine ended while vmd was down").IgnoreError();
    return;
  }
  std::string reason = absl::StrCat("engine pid ", pid, " was gone when vmd restarted",
                                    file.reason().empty() ? "" : absl::StrCat(": ", file.reason()));
  v1::ExitStatus* es = vm.mutable_status()->mutable_exit();
  es->set_reason(reason);
  es->set_register_dump(file.register_dump());
  vm.mutable_status()->set_last_error(reason);
  Transition(vm, v1::VM_STATE_CRASHED, reason).IgnoreError();
}

}  // namespace vmd::daemon

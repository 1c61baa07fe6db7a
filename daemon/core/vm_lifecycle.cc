#include "daemon/core/vm_lifecycle.h"

#include <signal.h>

#include <filesystem>

#include "absl/random/random.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/core/fault_points.h"
#include "daemon/core/operation.h"
#include "daemon/core/pmu_grants.h"
#include "daemon/core/validation.h"
#include "daemon/core/vm_state_machine.h"
#include "daemon/engine/exit_status.h"
#include "daemon/engine/vm_paths.h"
#include "daemon/host/host_inventory.h"
#include "daemon/core/clock.h"
#include "daemon/core/vm_spec_defaults.h"

namespace vmd::daemon {
namespace {

using std::chrono::milliseconds;

constexpr char kPageTokenPrefix[] = "vmd-page:";
// A ListVms page ends before its VMs would pass this many bytes: well under
// gRPC's default 4 MiB message limit, whatever the VMs' MSR policies hold.
constexpr size_t kMaxPageBytes = 2 << 20;

std::string NewVmId() {
  absl::BitGen gen;
  return absl::StrFormat("%016x", absl::Uniform<uint64_t>(gen));
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

// The answer of an operation whose outcome is one VM's change.
Outcome<v1::Vm> Changed(Mutation mutation) {
  v1::Vm vm = mutation.put.front();
  return {std::move(mutation), std::move(vm)};
}

}  // namespace

std::string VmLifecycle::ConsolePath(const v1::Vm& vm) const { return VmPaths(launcher_.state_dir(), vm.id()).console(); }

absl::StatusOr<v1::Vm> VmLifecycle::CreateVm(const v1::CreateVmRequest& request) {
  const v1::VmSpec spec = WithDefaults(request.spec());
  return RunOperation<v1::Vm>(records_,
                              {.method = "CreateVm",
                               .name = spec.name(),
                               .request_id = request.request_id(),
                               .message = &request,
                               .creates = true},
      [&](const v1::Vm*) -> absl::StatusOr<Outcome<v1::Vm>> {
        if (absl::Status s = ValidateVmSpec(spec, host_); !s.ok()) return s;
        absl::StatusOr<std::optional<v1::PmuGrant>> grant = GrantPmu(spec, host_);
        if (!grant.ok()) return grant.status();
        v1::Vm vm;
        if (*grant) *vm.mutable_status()->mutable_pmu_grant() = **grant;
        vm.set_id(NewVmId());
        *vm.mutable_spec() = spec;
        const google::protobuf::Timestamp now = NowTimestamp();
        vm.mutable_status()->set_state(v1::VM_STATE_CREATED);
        *vm.mutable_status()->mutable_created_at() = now;
        *vm.mutable_status()->mutable_state_changed_at() = now;
        Mutation m;
        m.put.push_back(vm);
        v1::Event created = MakeVmEvent(vm, v1::EVENT_TYPE_CREATED, v1::VM_STATE_CREATED, "", now);
        created.clear_old_state();  // there was no state before
        m.events.push_back(std::move(created));
        return Changed(std::move(m));
      });
}

absl::StatusOr<v1::Vm> VmLifecycle::GetVm(const std::string& name) const {
  if (absl::Status s = ValidateName("name", name); !s.ok()) return s;
  std::optional<v1::Vm> vm = records_.Get(name);
  if (!vm) return VmNotFound(name);
  return *vm;
}

absl::StatusOr<v1::ListVmsResponse> VmLifecycle::ListVms(const v1::ListVmsRequest& request) const {
  if (absl::Status s = ValidateListRequest(request); !s.ok()) return s;
  std::string after;
  if (!request.page_token().empty()) {
    std::string token;
    if (!absl::WebSafeBase64Unescape(request.page_token(), &token) || !absl::StartsWith(token, kPageTokenPrefix)) {
      return rpc::InvalidField("page_token", "not a token returned by ListVms");
    }
    after = token.substr(sizeof(kPageTokenPrefix) - 1);
  }
  const size_t limit = request.page_size() == 0 ? kDefaultPageSize : static_cast<size_t>(request.page_size());
  v1::ListVmsResponse response;
  // Read before the VMs: every event up to it is in what List returns (the
  // view shows a change before the log does), so a watch from it has no gap.
  response.set_head_sequence(records_.events().last_sequence());
  bool more = false;
  std::vector<v1::Vm> vms =
      records_.List(after, limit, [&](const v1::Vm& vm) { return Matches(vm, request); }, &more);
  size_t bytes = response.ByteSizeLong();
  for (size_t i = 0; i < vms.size(); ++i) {
    v1::Vm& vm = vms[i];
    if (request.view() != v1::VM_VIEW_FULL) vm.mutable_spec()->clear_msr_policy();
    // A repeated field's entry costs its size and a few bytes of tag and length.
    const size_t vm_bytes = vm.ByteSizeLong() + 8;
    if (i > 0 && bytes + vm_bytes > kMaxPageBytes) {
      more = true;
      break;
    }
    bytes += vm_bytes;
    *response.add_vms() = std::move(vm);
  }
  if (more) {
    response.set_next_page_token(
        absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, response.vms().rbegin()->spec().name())));
  }
  return response;
}

absl::StatusOr<v1::Vm> VmLifecycle::StartVm(const v1::StartVmRequest& request) {
  const OperationRequest op{.method = "StartVm",
                            .name = request.name(),
                            .request_id = request.request_id(),
                            .message = &request,
                            .op = VmOp::kStart,
                            .done_when = [](const v1::Vm& vm) {
                              return vm.status().state() == v1::VM_STATE_RUNNING ||
                                     vm.status().state() == v1::VM_STATE_PAUSED;
                            }};
  return RunOperation<v1::Vm>(records_, op, [&](const v1::Vm* vm) -> absl::StatusOr<Outcome<v1::Vm>> {
    absl::StatusOr<v1::Vm> running = Start(*vm, PendingRequest(op));
    if (!running.ok()) return running.status();
    return Changed(StateChange(*running, v1::VM_STATE_RUNNING,
                               absl::StrCat("running on ", running->status().backend() == v1::BACKEND_KVM ? "kvm" : "sim")));
  });
}

// Commits STARTING before anything runs (the intent: a vmd that dies from
// here on finds the VM starting and looks for its engine), spawns the engine,
// commits its pid, and waits until it serves. Returns the VM ready to be
// committed RUNNING; a failure is committed CRASHED here.
absl::StatusOr<v1::Vm> VmLifecycle::Start(const v1::Vm& current, std::optional<RequestRecord> pending) {
  const std::string name = current.spec().name();
  const std::string effective = EffectiveBackend(current.spec(), host_);
  for (const v1::BackendInfo& b : host_.backends()) {
    if (b.name() == effective && !b.usable()) {
      return rpc::PreconditionFailed(rpc::reason::kBackendUnusable, "BACKEND", absl::StrCat("backends/", effective),
                                     absl::StrCat("spec.backend: ", effective, " is not usable on this host: ",
                                                  b.reason()),
                                     {{"backend", effective}});
    }
  }
  v1::Vm vm = current;
  // Negotiated again: this host (or vmd's view of it) may have changed
  // since CreateVm; the engine programs what this grant says.
  absl::StatusOr<std::optional<v1::PmuGrant>> grant = GrantPmu(current.spec(), host_);
  if (!grant.ok()) return grant.status();
  vm.mutable_status()->clear_pmu_grant();
  if (*grant) *vm.mutable_status()->mutable_pmu_grant() = **grant;
  vm.mutable_status()->set_engine_pid(0);
  vm.mutable_status()->clear_exit();
  vm.mutable_status()->clear_last_error();
  Mutation intent = StateChange(vm, v1::VM_STATE_STARTING, absl::StrCat("starting an engine on ", effective));
  intent.request = std::move(pending);
  {
    std::lock_guard admission(admission_mu_);
    if (absl::Status s = AdmitLocked(current); !s.ok()) return s;
    if (absl::Status s = records_.Commit(intent); !s.ok()) return s;
  }
  vm = intent.put.front();
  CrashPoint("start.after-intent");

  auto fail = [&](const std::string& reason, const std::optional<EngineExit>& exit,
                  const engine::v1::ExitRecord& record) -> absl::Status {
    *vm.mutable_status()->mutable_exit() = MakeExitStatus(exit, record, reason);
    vm.mutable_status()->set_engine_pid(0);
    vm.mutable_status()->set_last_error(reason);
    Mutation crashed = StateChange(vm, v1::VM_STATE_CRASHED, absl::StrCat("engine failed to start: ", reason));
    if (absl::Status s = records_.Commit(crashed); !s.ok()) return s;
    return absl::InternalError(absl::StrCat("vm ", rpc::QuotedInput(name), ": engine failed to start: ", reason));
  };
  absl::StatusOr<SpawnedEngine> spawned = launcher_.Spawn(vm, launcher_.ConfigFor(vm, effective));
  if (!spawned.ok()) return fail(std::string(spawned.status().message()), std::nullopt, {});
  CrashPoint("start.after-spawn");
  // The pid, before the engine is waited for: a vmd restart adopts it.
  vm.mutable_status()->set_engine_pid(spawned->pid);
  Mutation with_pid;
  with_pid.put.push_back(vm);
  if (absl::Status s = records_.Commit(with_pid); !s.ok()) {
    supervisor_.Kill(spawned->pid, SIGKILL);
    return s;
  }
  CrashPoint("start.after-pid");

  LaunchFailure failure;
  absl::StatusOr<engine::v1::EngineStatus> status = launcher_.WaitUntilServing(vm, *spawned, &failure);
  if (!status.ok()) return fail(failure.Reason(), failure.exit, failure.record);
  vm.mutable_status()->set_backend(BackendFromName(status->backend()));
  vm.mutable_status()->set_sim_profile(status->sim_profile());
  *vm.mutable_status()->mutable_started_at() = NowTimestamp();
  return vm;
}

absl::Status VmLifecycle::AdmitLocked(const v1::Vm& vm) const {
  const double overcommit = host_.limits().memory_overcommit() > 0 ? host_.limits().memory_overcommit() : 1.0;
  const uint64_t capacity = static_cast<uint64_t>(static_cast<double>(host_.limits().max_memory_mib()) * overcommit);
  bool more = false;
  uint64_t committed = 0;
  size_t running = 0;
  for (const v1::Vm& other : records_.List("", SIZE_MAX,
                                           [&](const v1::Vm& o) { return o.id() != vm.id() && HasEngine(o.status().state()); },
                                           &more)) {
    committed += other.spec().memory_mib();
    ++running;
  }
  if (committed + vm.spec().memory_mib() > capacity) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "spec.memory_mib: vm ", rpc::QuotedInput(vm.spec().name()), " needs ", vm.spec().memory_mib(), " MiB; ", running,
        " VM(s) with engines hold ", committed, " MiB of this host's ", capacity, " MiB (", host_.limits().max_memory_mib(),
        " MiB x memory_overcommit ", overcommit, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::Vm> VmLifecycle::PauseVm(const v1::PauseVmRequest& request) {
  return RunOperation<v1::Vm>(
      records_,
      {.method = "PauseVm", .name = request.name(), .request_id = request.request_id(), .message = &request,
       .op = VmOp::kPause},
      [&](const v1::Vm* vm) -> absl::StatusOr<Outcome<v1::Vm>> {
        if (auto s = clients_.For(*vm)->Pause(kEngineCallDeadline); !s.ok()) return s.status();
        return Changed(StateChange(*vm, v1::VM_STATE_PAUSED, ""));
      });
}

absl::StatusOr<v1::Vm> VmLifecycle::ResumeVm(const v1::ResumeVmRequest& request) {
  return RunOperation<v1::Vm>(
      records_,
      {.method = "ResumeVm", .name = request.name(), .request_id = request.request_id(), .message = &request,
       .op = VmOp::kResume},
      [&](const v1::Vm* vm) -> absl::StatusOr<Outcome<v1::Vm>> {
        if (auto s = clients_.For(*vm)->Resume(kEngineCallDeadline); !s.ok()) return s.status();
        return Changed(StateChange(*vm, v1::VM_STATE_RUNNING, ""));
      });
}

absl::StatusOr<v1::Vm> VmLifecycle::StopVm(const v1::StopVmRequest& request) {
  if (absl::Status s = ValidateStopRequest(request); !s.ok()) return s;
  const OperationRequest op{.method = "StopVm",
                            .name = request.name(),
                            .request_id = request.request_id(),
                            .message = &request,
                            .op = VmOp::kStop,
                            .done_when = [](const v1::Vm& vm) {
                              return vm.status().state() == v1::VM_STATE_STOPPED ||
                                     vm.status().state() == v1::VM_STATE_CRASHED;
                            }};
  return RunOperation<v1::Vm>(records_, op,
                              [&](const v1::Vm* vm) { return Stop(*vm, request, PendingRequest(op)); });
}

absl::StatusOr<Outcome<v1::Vm>> VmLifecycle::Stop(const v1::Vm& current, const v1::StopVmRequest& request,
                                                   std::optional<RequestRecord> pending) {
  const uint32_t timeout_ms = request.timeout_ms() == 0 ? kDefaultStopTimeoutMs : request.timeout_ms();
  // A paused guest cannot answer a power-off request: it is forced.
  const bool force = request.force() || current.status().state() == v1::VM_STATE_PAUSED;
  const pid_t pid = current.status().engine_pid();
  Mutation stopping = StateChange(current, v1::VM_STATE_STOPPING, force ? "forced power-off" : "power-off requested");
  stopping.request = std::move(pending);
  if (absl::Status s = records_.Commit(stopping); !s.ok()) return s;
  CrashPoint("stop.after-intent");
  v1::Vm vm = stopping.put.front();

  // The engine gets the timeout and a little slack to answer: one that does
  // not (stopped, wedged) is killed at once, so the stop honours its timeout.
  absl::StatusOr<bool> graceful = clients_.For(vm)->Stop(timeout_ms, force, milliseconds(timeout_ms) + kStopSlack);
  std::optional<EngineExit> exit;
  if (graceful.ok()) exit = supervisor_.WaitForExit(pid, kEngineExitGrace);
  if (!exit) {
    supervisor_.Kill(pid, SIGKILL);
    exit = supervisor_.WaitForExit(pid, kEngineExitGrace);
  }
  clients_.Forget(vm.id());
  std::string message;
  if (!graceful.ok()) {
    message = absl::StrCat("engine did not answer stop (", graceful.status().message(), "); killed");
  } else if (*graceful) {
    message = "guest powered off";
  } else {
    message = force ? "powered off" : absl::StrCat("forced off after ", timeout_ms, " ms");
  }
  *vm.mutable_status()->mutable_exit() =
      MakeExitStatus(exit, ReadExitRecord(VmPaths(launcher_.state_dir(), vm.id())), message);
  vm.mutable_status()->set_engine_pid(0);
  return Changed(StateChange(vm, v1::VM_STATE_STOPPED, message));
}

absl::StatusOr<v1::DeleteVmResponse> VmLifecycle::DeleteVm(const v1::DeleteVmRequest& request) {
  std::string runtime_dir;
  absl::StatusOr<v1::DeleteVmResponse> deleted = RunOperation<v1::DeleteVmResponse>(
      records_,
      {.method = "DeleteVm", .name = request.name(), .request_id = request.request_id(), .message = &request,
       .op = VmOp::kDelete},
      [&](const v1::Vm* vm) -> absl::StatusOr<Outcome<v1::DeleteVmResponse>> {
        Outcome<v1::DeleteVmResponse> outcome;
        outcome.mutation.delete_ids.push_back(vm->id());
        outcome.mutation.events.push_back(
            MakeVmEvent(*vm, v1::EVENT_TYPE_DELETED, v1::VM_STATE_UNSPECIFIED, "", NowTimestamp()));
        runtime_dir = VmPaths(launcher_.state_dir(), vm->id()).dir;
        return outcome;
      });
  if (!deleted.ok()) return deleted.status();
  std::error_code ec;
  if (!runtime_dir.empty()) std::filesystem::remove_all(runtime_dir, ec);  // best effort, after the commit
  return deleted;
}

}  // namespace vmd::daemon

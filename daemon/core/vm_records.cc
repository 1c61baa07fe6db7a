#include "daemon/core/vm_records.h"

#include <chrono>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"
#include "backend/rpc/quoted_input.h"
#include "daemon/core/clock.h"

namespace vmd::daemon {
namespace {

// CommitOrSurface's attempts: 10 ms, 20 ms, ... up to about 5 s in all.
constexpr int kCommitAttempts = 10;
constexpr std::chrono::milliseconds kFirstBackoff{10};

}  // namespace

absl::StatusOr<std::unique_ptr<VmRecords>> VmRecords::Open(const std::string& db_path) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(db_path);
  if (!store.ok()) return store.status();
  std::unique_ptr<VmRecords> records(new VmRecords(*std::move(store)));
  absl::StatusOr<std::vector<v1::Event>> events = records->store_->LoadEvents(Store::kRetainedEvents);
  if (!events.ok()) return events.status();
  for (const v1::Event& e : *events) records->events_.Publish(e);
  absl::StatusOr<std::vector<v1::Vm>> vms = records->store_->LoadVms();
  if (!vms.ok()) return vms.status();
  for (const v1::Vm& vm : *vms) records->registry_.Put(vm);
  return records;
}

VmRegistry::OpLock VmRecords::Lock(const std::string& name) {
  {
    std::unique_lock lock(held_mu_);
    released_.wait(lock, [&] { return !held_.contains(name); });
  }
  return registry_.Lock(name);
}

void VmRecords::Hold(const std::vector<std::string>& names) {
  std::lock_guard lock(held_mu_);
  held_.insert(names.begin(), names.end());
}

void VmRecords::Release(const std::string& name) {
  std::lock_guard lock(held_mu_);
  held_.erase(name);
  released_.notify_all();
}

void VmRecords::Overlay(v1::Vm& vm) const {
  std::lock_guard lock(unresponsive_mu_);
  auto it = unresponsive_.find(vm.id());
  if (it == unresponsive_.end()) return;
  *vm.mutable_status()->mutable_unresponsive_since() = it->second.first;
  vm.mutable_status()->set_unresponsive_reason(it->second.second);
}

std::optional<v1::Vm> VmRecords::Get(const std::string& name) const {
  std::optional<v1::Vm> vm = registry_.Get(name);
  if (vm) Overlay(*vm);
  return vm;
}

std::vector<v1::Vm> VmRecords::List(const std::string& after_name, size_t limit,
                                    const std::function<bool(const v1::Vm&)>& match, bool* more) const {
  std::vector<v1::Vm> vms = registry_.List(after_name, limit, match, more);
  for (v1::Vm& vm : vms) Overlay(vm);
  return vms;
}

void VmRecords::SetUnresponsive(
    const std::string& vm_id, std::optional<std::pair<google::protobuf::Timestamp, std::string>> since_and_reason) {
  std::lock_guard lock(unresponsive_mu_);
  if (since_and_reason) {
    unresponsive_[vm_id] = *std::move(since_and_reason);
  } else {
    unresponsive_.erase(vm_id);
  }
}

void VmRecords::Show(const Mutation& mutation) {
  for (const v1::Vm& vm : mutation.put) registry_.Put(vm);
  for (const std::string& id : mutation.delete_ids) registry_.RemoveId(id);
  for (const v1::Event& e : mutation.events) events_.Publish(e);
}

absl::Status VmRecords::Commit(Mutation& mutation) {
  // What is only observed is never stored (Overlay adds it to reads).
  for (v1::Vm& vm : mutation.put) {
    vm.mutable_status()->clear_unresponsive_since();
    vm.mutable_status()->clear_unresponsive_reason();
  }
  std::lock_guard lock(commit_mu_);
  if (absl::Status s = store_->Commit(mutation); !s.ok()) return s;
  Show(mutation);
  return absl::OkStatus();
}

void VmRecords::CommitOrSurface(Mutation mutation, const std::string& what) {
  absl::Status s;
  std::chrono::milliseconds backoff = kFirstBackoff;
  for (int attempt = 0; attempt < kCommitAttempts; ++attempt, backoff *= 2) {
    Mutation copy = mutation;  // a failed commit may have assigned sequences
    s = Commit(copy);
    if (s.ok()) return;
    std::this_thread::sleep_for(backoff);
  }
  std::cerr << "vmd: error: cannot record " << what << " in the store after " << kCommitAttempts
            << " attempts: " << s << "\n";
  // The view shows the change, marked, so that a client sees both the new
  // state and that the store has not got it.
  std::lock_guard lock(commit_mu_);
  for (v1::Vm& vm : mutation.put) {
    vm.mutable_status()->set_last_error(
        absl::StrCat(vm.status().last_error(), vm.status().last_error().empty() ? "" : "; ",
                     "vmd could not record this in its store (", s.message(), "); a vmd restart may show the state before"));
    registry_.Put(vm);
  }
}

absl::StatusOr<std::optional<RequestRecord>> VmRecords::Replay(const std::string& request_id, const char* method,
                                                               const std::string& name,
                                                               const std::string& fingerprint) {
  if (request_id.empty()) return std::nullopt;
  absl::StatusOr<std::optional<RequestRecord>> record = store_->FindRequest(request_id);
  if (!record.ok()) return record.status();
  if (!*record) return std::nullopt;
  if ((*record)->method != method || (*record)->vm_name != name) {
    return rpc::InvalidField("request_id",
                             absl::StrCat(rpc::QuotedInput(request_id), " was already used for ", (*record)->method,
                                          " of vm ", rpc::QuotedInput((*record)->vm_name)),
                             rpc::reason::kRequestIdReused);
  }
  // Records from before schema 3 have no fingerprint: method and VM decide.
  if (!(*record)->fingerprint.empty() && (*record)->fingerprint != fingerprint) {
    return rpc::InvalidField("request_id",
                             absl::StrCat(rpc::QuotedInput(request_id), " was already used for another ", method,
                                          " request of vm ", rpc::QuotedInput(name),
                                          "; a retry must send the same request"),
                             rpc::reason::kRequestIdReused);
  }
  return record;
}

Mutation StateChange(const v1::Vm& vm, v1::VmState state, const std::string& message) {
  v1::Vm next = vm;
  const google::protobuf::Timestamp now = NowTimestamp();
  next.mutable_status()->set_state(state);
  *next.mutable_status()->mutable_state_changed_at() = now;
  Mutation m;
  m.events.push_back(MakeVmEvent(vm, v1::EVENT_TYPE_STATE_CHANGED, state, message, now));
  m.put.push_back(std::move(next));
  return m;
}

}  // namespace vmd::daemon

// The daemon's committed truth about VMs, in one place: the SQLite store,
// the in-memory view of every record (VmRegistry) with its per-VM operation
// locks, and the event log. Every change is committed to the store before
// the view and the event log show it, so nothing acknowledged is ever lost.
#ifndef VMD_DAEMON_CORE_VM_RECORDS_H_
#define VMD_DAEMON_CORE_VM_RECORDS_H_

#include <memory>
#include <mutex>
#include <condition_variable>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "daemon/core/event_log.h"
#include "daemon/core/vm_registry.h"
#include "daemon/store/store.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

class VmRecords {
 public:
  // Opens the store at `db_path` and loads every VM and the retained events.
  static absl::StatusOr<std::unique_ptr<VmRecords>> Open(const std::string& db_path);

  // The VM's operation lock; waits while the VM's engine is being adopted.
  VmRegistry::OpLock Lock(const std::string& name);
  // After a restart, vmd serves while it adopts engines: operations on a VM
  // whose engine is not adopted yet wait for it. Hold(names) makes Lock()
  // wait for those VMs until Release(name); the adopter itself takes the
  // lock with LockHeld.
  void Hold(const std::vector<std::string>& names);
  void Release(const std::string& name);
  VmRegistry::OpLock LockHeld(const std::string& name) { return registry_.Lock(name); }
  // The view: committed records, with what is observed but not committed
  // (an unresponsive engine) laid over them.
  std::optional<v1::Vm> Get(const std::string& name) const;
  std::vector<v1::Vm> List(const std::string& after_name, size_t limit,
                           const std::function<bool(const v1::Vm&)>& match, bool* more) const;
  const VmRegistry& registry() const { return registry_; }

  // Marks the VM of `vm_id` unresponsive since `since` for `reason`, or
  // clears the mark (nullopt). Not committed: the engine's state is.
  void SetUnresponsive(const std::string& vm_id,
                       std::optional<std::pair<google::protobuf::Timestamp, std::string>> since_and_reason);
  EventLog& events() { return events_; }

  // Commits `mutation` (records, events, request answer) in one transaction,
  // then shows it: puts and deletes in the view, events in the log. The VM's
  // operation lock is held by the caller.
  absl::Status Commit(Mutation& mutation);
  // For changes nobody waits on -- an engine's exit, a recovery -- that must
  // not be lost either: Commit, retried with backoff while it fails; if it
  // still fails, logged as an error and shown on the VM's view (its
  // last_error says the store lags) so that GetVm surfaces it.
  void CommitOrSurface(Mutation mutation, const std::string& what);

  // The record of `request_id`, if any (answered, or pending). A
  // request_id used before for another method, VM or request (another
  // `fingerprint`) is INVALID_ARGUMENT.
  absl::StatusOr<std::optional<RequestRecord>> Replay(const std::string& request_id, const char* method,
                                                      const std::string& name, const std::string& fingerprint);

 private:
  VmRecords(std::unique_ptr<Store> store) : store_(std::move(store)), events_(Store::kRetainedEvents) {}
  void Show(const Mutation& mutation);

  std::unique_ptr<Store> store_;
  VmRegistry registry_;
  EventLog events_;
  std::mutex commit_mu_;  // commits publish their events in sequence order
  std::mutex held_mu_;
  std::condition_variable released_;
  std::set<std::string> held_;  // guarded by held_mu_
  mutable std::mutex unresponsive_mu_;
  // VM id -> since when, and why.
  std::map<std::string, std::pair<google::protobuf::Timestamp, std::string>> unresponsive_;
  void Overlay(v1::Vm& vm) const;
};

// `vm` moved to `state` now, as the record to put and the event to log.
// `message` is the event's.
Mutation StateChange(const v1::Vm& vm, v1::VmState state, const std::string& message);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_VM_RECORDS_H_

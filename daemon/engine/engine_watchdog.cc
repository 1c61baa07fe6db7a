#include "daemon/engine/engine_watchdog.h"

#include <future>
#include <vector>

#include "absl/strings/str_cat.h"
#include "daemon/core/clock.h"

namespace vmd::daemon {
namespace {

bool Watched(const v1::Vm& vm) {
  const v1::VmState state = vm.status().state();
  return vm.status().engine_pid() > 0 && (state == v1::VM_STATE_RUNNING || state == v1::VM_STATE_PAUSED);
}

}  // namespace

EngineWatchdog::EngineWatchdog(VmRecords& records, EngineClients& clients, Options options)
    : records_(records), clients_(clients), options_(options), thread_(&EngineWatchdog::Loop, this) {}

EngineWatchdog::~EngineWatchdog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void EngineWatchdog::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, options_.period, [&] { return stopping_; })) {
    lock.unlock();
    CheckOnce();
    lock.lock();
  }
}

void EngineWatchdog::CheckOnce() {
  bool more = false;
  const std::vector<v1::Vm> vms = records_.List("", SIZE_MAX, Watched, &more);
  std::vector<std::future<absl::Status>> answers;
  for (const v1::Vm& vm : vms) {
    answers.push_back(std::async(std::launch::async, [this, vm] {
      return clients_.For(vm)->GetStatus(options_.deadline).status();
    }));
  }
  std::set<std::string> watched;
  for (size_t i = 0; i < vms.size(); ++i) {
    Observe(vms[i], answers[i].get());
    watched.insert(vms[i].id());
  }
  // A VM whose engine is gone (stopped, crashed, deleted) is not unresponsive.
  std::lock_guard lock(mu_);
  for (auto it = marked_.begin(); it != marked_.end();) {
    if (watched.contains(*it)) {
      ++it;
      continue;
    }
    records_.SetUnresponsive(*it, std::nullopt);
    missed_.erase(*it);
    it = marked_.erase(it);
  }
}

void EngineWatchdog::Observe(const v1::Vm& vm, const absl::Status& answer) {
  int missed;
  bool marked;
  {
    std::lock_guard lock(mu_);
    missed = answer.ok() ? 0 : ++missed_[vm.id()];
    if (answer.ok()) missed_.erase(vm.id());
    marked = marked_.contains(vm.id());
    if (!answer.ok() && missed >= options_.misses) marked_.insert(vm.id());
    if (answer.ok()) marked_.erase(vm.id());
  }
  const google::protobuf::Timestamp now = NowTimestamp();
  if (!answer.ok() && missed >= options_.misses && !marked) {
    const std::string reason = absl::StrCat("engine pid ", vm.status().engine_pid(), " has not answered for ", missed,
                                            " checks (", answer.message(), ")");
    records_.SetUnresponsive(vm.id(), std::make_pair(now, reason));
    Mutation m;
    m.events.push_back(MakeVmEvent(vm, v1::EVENT_TYPE_ENGINE_UNRESPONSIVE, vm.status().state(), reason, now));
    records_.CommitOrSurface(std::move(m), absl::StrCat("vm ", vm.spec().name(), " unresponsive"));
  } else if (answer.ok() && marked) {
    records_.SetUnresponsive(vm.id(), std::nullopt);
    Mutation m;
    m.events.push_back(
        MakeVmEvent(vm, v1::EVENT_TYPE_ENGINE_RESPONSIVE, vm.status().state(), "the engine answers again", now));
    records_.CommitOrSurface(std::move(m), absl::StrCat("vm ", vm.spec().name(), " responsive"));
  }
}

}  // namespace vmd::daemon

#include "daemon/engine/engine_watchdog.h"

#include <algorithm>
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
  for (auto round = std::chrono::steady_clock::now() + options_.period;
       !cv_.wait_until(lock, round, [&] { return stopping_; }); round += options_.period) {
    lock.unlock();
    if (!CheckOnce()) return;
    lock.lock();
    // A round longer than the period (hung engines wait out their deadline)
    // is followed at once by the next, not by a burst of missed ones.
    round = std::max(round, std::chrono::steady_clock::now() - options_.period);
  }
}

bool EngineWatchdog::CheckOnce() {
  bool more = false;
  const std::vector<v1::Vm> vms = records_.List("", SIZE_MAX, Watched, &more);
  const auto start = std::chrono::steady_clock::now();
  const auto spacing = vms.empty() ? std::chrono::nanoseconds(0) : options_.period / 2 / vms.size();
  std::vector<std::future<absl::Status>> answers;
  for (size_t i = 0; i < vms.size(); ++i) {
    {
      std::unique_lock lock(mu_);
      if (cv_.wait_until(lock, start + i * spacing, [&] { return stopping_; })) break;
    }
    answers.push_back(std::async(std::launch::async, [this, vm = vms[i]] {
      return clients_.For(vm)->GetStatus(options_.deadline).status();
    }));
  }
  if (answers.size() < vms.size()) return false;  // stopping: the futures wait for their answers
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
  return true;
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

#include "daemon/core/msr_audit.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/engine/engine_client.h"
#include "google/protobuf/util/time_util.h"

namespace vmd::daemon {

MsrAudit::MsrAudit(VmRecords& records, EngineClients& clients, std::chrono::milliseconds period)
    : records_(records), clients_(clients), period_(period), thread_(&MsrAudit::Loop, this) {}

MsrAudit::~MsrAudit() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void MsrAudit::Loop() {
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, period_, [&] { return stopping_; })) {
    lock.unlock();
    CollectOnce();
    lock.lock();
  }
}

void MsrAudit::CollectOnce() {
  bool more = false;
  const std::vector<v1::Vm> vms = records_.List(
      "", SIZE_MAX,
      [](const v1::Vm& vm) {
        const v1::VmState state = vm.status().state();
        return (state == v1::VM_STATE_RUNNING || state == v1::VM_STATE_PAUSED) && vm.spec().msr_policy().log_denials();
      },
      &more);
  for (const v1::Vm& vm : vms) {
    auto denials = clients_.For(vm)->TakeMsrDenials(std::chrono::seconds(1));
    if (!denials.ok() || denials->denials().empty()) continue;  // none, or an engine that is going away
    Mutation m;
    for (const engine::v1::MsrDenial& d : denials->denials()) {
      m.events.push_back(MakeVmEvent(
          vm, v1::EVENT_TYPE_MSR_DENIED, vm.status().state(),
          absl::StrCat(d.write() ? "wrmsr" : "rdmsr", " 0x", absl::Hex(d.index()), " denied"),
          google::protobuf::util::TimeUtil::NanosecondsToTimestamp(d.unix_nanos())));
    }
    // Events that change no record: the store's lock, not the VM's.
    records_.CommitOrSurface(std::move(m), absl::StrCat("MSR denials of vm ", vm.spec().name()));
  }
}

}  // namespace vmd::daemon

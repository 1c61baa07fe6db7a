#include "daemon/core/msr_audit.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "daemon/engine/engine_client.h"
#include "google/protobuf/util/time_util.h"

namespace vmd::daemon {

MsrAudit::MsrAudit(VmManager* manager, std::chrono::milliseconds period)
    : manager_(manager), period_(period), thread_(&MsrAudit::Loop, this) {}

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
  v1::ListVmsRequest request;
  request.add_states(v1::VM_STATE_RUNNING);
  request.add_states(v1::VM_STATE_PAUSED);
  request.set_page_size(1000);
  for (;;) {
    absl::StatusOr<v1::ListVmsResponse> page = manager_->ListVms(request);
    if (!page.ok()) return;
    for (const v1::Vm& vm : page->vms()) {
      if (!vm.spec().msr_policy().log_denials()) continue;
      auto denials = EngineClient(manager_->EngineSocket(vm)).TakeMsrDenials(std::chrono::seconds(1));
      if (!denials.ok()) continue;  // an engine that is going away
      std::vector<v1::Event> events;
      for (const engine::v1::MsrDenial& d : denials->denials()) {
        events.push_back(MakeVmEvent(
            vm, v1::EVENT_TYPE_MSR_DENIED, vm.status().state(),
            absl::StrCat(d.write() ? "wrmsr" : "rdmsr", " 0x", absl::Hex(d.index()), " denied"),
            google::protobuf::util::TimeUtil::NanosecondsToTimestamp(d.unix_nanos())));
      }
      manager_->RecordEvents(std::move(events)).IgnoreError();
    }
    if (page->next_page_token().empty()) return;
    request.set_page_token(page->next_page_token());
  }
}

}  // namespace vmd::daemon

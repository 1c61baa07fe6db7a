// Collects the MSR denial events of running VMs whose policy logs denials,
// and commits them as EVENT_TYPE_MSR_DENIED events. Engines rate-limit what
// they queue (a token bucket per VM), so a guest hammering a denied MSR cannot
// flood vmd or its store; vmd collects once per period.
#ifndef VMD_DAEMON_CORE_MSR_AUDIT_H_
#define VMD_DAEMON_CORE_MSR_AUDIT_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"

namespace vmd::daemon {

class MsrAudit {
 public:
  MsrAudit(VmRecords& records, EngineClients& clients, std::chrono::milliseconds period = std::chrono::seconds(1));
  ~MsrAudit();
  // One collection round (also what the thread does every period).
  void CollectOnce();

 private:
  void Loop();
  VmRecords& records_;
  EngineClients& clients_;
  const std::chrono::milliseconds period_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_MSR_AUDIT_H_

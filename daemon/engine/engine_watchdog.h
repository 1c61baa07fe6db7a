// Liveness of the running engines: every period each is asked for its status
// with a short deadline; after `misses` unanswered rounds in a row its VM is
// marked unresponsive (VmStatus.unresponsive_since, an ENGINE_UNRESPONSIVE
// event) without changing its state -- the engine may be stopped (SIGSTOP),
// wedged or starved, and vmd does not know which. The mark goes (and an
// ENGINE_RESPONSIVE event says so) once the engine answers again.
//
// A round's questions are spread over half the period, not asked at once:
// 50 engines asked together made a burst of 50 threads and 50 woken
// processes on a 2-core host, and the one API call in 100 that met it
// waited ~100 ms for a CPU (hardening issue, CreateVm tail latency).
#ifndef VMD_DAEMON_ENGINE_ENGINE_WATCHDOG_H_
#define VMD_DAEMON_ENGINE_ENGINE_WATCHDOG_H_

#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/core/vm_records.h"
#include "daemon/engine/engine_clients.h"

namespace vmd::daemon {

class EngineWatchdog {
 public:
  struct Options {
    std::chrono::milliseconds period{1000};
    std::chrono::milliseconds deadline{1000};
    int misses = 2;
  };
  EngineWatchdog(VmRecords& records, EngineClients& clients, Options options);
  ~EngineWatchdog();

 private:
  void Loop();
  // One round: every running or paused engine asked, each question started
  // at its own moment in the first half of the period, all answered in
  // parallel. False when the watchdog stops meanwhile.
  bool CheckOnce();
  // Records the outcome of asking `vm`'s engine.
  void Observe(const v1::Vm& vm, const absl::Status& answer);

  VmRecords& records_;
  EngineClients& clients_;
  const Options options_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, int> missed_;  // VM id -> rounds unanswered in a row
  std::set<std::string> marked_;       // VM ids marked unresponsive
  std::thread thread_;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_WATCHDOG_H_

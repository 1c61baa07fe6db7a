#include "client/interrupt.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace vmd::client {
namespace {

struct InterruptState {
  absl::Mutex mu;
  bool installed ABSL_GUARDED_BY(mu) = false;
  StreamCanceller* canceller ABSL_GUARDED_BY(mu) = nullptr;
  bool cancel_requested ABSL_GUARDED_BY(mu) = false;
};

// Never destroyed: the signal thread may still use it during exit().
InterruptState& State() {
  static InterruptState* const state = new InterruptState;
  return *state;
}

sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

void WaitForSignals() {
  const sigset_t set = InterruptSignals();
  while (true) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    InterruptState& state = State();
    absl::MutexLock lock(&state.mu);
    if (state.canceller == nullptr || state.cancel_requested) {
      _exit(128 + signal_number);
    }
    state.cancel_requested = true;
    state.canceller->Cancel();
  }
}

}  // namespace

void InstallInterruptHandler() {
  InterruptState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.installed) return;
  state.installed = true;
  const sigset_t set = InterruptSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread(WaitForSignals).detach();
}

CancelOnInterrupt::CancelOnInterrupt(StreamCanceller* canceller) {
  InterruptState& state = State();
  absl::MutexLock lock(&state.mu);
  state.canceller = canceller;
  state.cancel_requested = false;
}

CancelOnInterrupt::~CancelOnInterrupt() {
  InterruptState& state = State();
  absl::MutexLock lock(&state.mu);
  state.canceller = nullptr;
}

}  // namespace vmd::client

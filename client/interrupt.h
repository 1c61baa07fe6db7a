// Ctrl-C / SIGTERM handling for vmctl: a signal ends a following stream
// (events, console -f) cleanly with exit status 0, and otherwise ends vmctl at
// once with status 128 + signal, as the default action would.
#ifndef VMD_CLIENT_INTERRUPT_H_
#define VMD_CLIENT_INTERRUPT_H_

#include "client/vmd_client.h"

namespace vmd::client {

// Blocks SIGINT and SIGTERM in the calling thread and starts a thread that
// takes them with sigwait(). Call it first in main(), before any other thread
// (gRPC's included) exists, so that every thread inherits the mask and no
// thread is interrupted in the middle of a call. Idempotent.
void InstallInterruptHandler();

// While alive, SIGINT/SIGTERM cancels `canceller` instead of ending the
// process; a second signal ends the process anyway. Without
// InstallInterruptHandler() it has no effect (as in tests).
class CancelOnInterrupt {
 public:
  explicit CancelOnInterrupt(StreamCanceller* canceller);
  CancelOnInterrupt(const CancelOnInterrupt&) = delete;
  CancelOnInterrupt& operator=(const CancelOnInterrupt&) = delete;
  ~CancelOnInterrupt();
};

}  // namespace vmd::client

#endif  // VMD_CLIENT_INTERRUPT_H_

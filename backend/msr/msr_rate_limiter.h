// A token bucket for denial events: a guest looping on a denied MSR must not
// flood vmd (or its event stream) with one event per access. Thread-safe;
// time is passed in, so tests need no clock.
#ifndef VMD_BACKEND_MSR_MSR_RATE_LIMITER_H_
#define VMD_BACKEND_MSR_MSR_RATE_LIMITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace vmd::msr {

class TokenBucket {
 public:
  // `rate_per_second` tokens are added per second, up to `burst`; the
  // bucket starts full.
  TokenBucket(double rate_per_second, double burst);

  // Takes a token if there is one: true → emit the event; false → it is
  // suppressed (and counted).
  bool Admit(absl::Time now);

  uint64_t admitted() const;
  uint64_t suppressed() const;

 private:
  const double rate_per_second_;
  const double burst_;
  mutable absl::Mutex mu_;
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  uint64_t admitted_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace vmd::msr

#endif  // VMD_BACKEND_MSR_MSR_RATE_LIMITER_H_

#include "backend/msr/msr_rate_limiter.h"

#include <algorithm>

namespace vmd::msr {

TokenBucket::TokenBucket(double rate_per_second, double burst)
    : rate_per_second_(rate_per_second), burst_(burst), tokens_(burst) {}

bool TokenBucket::Admit(absl::Time now) {
  absl::MutexLock lock(&mu_);
  if (last_ != absl::InfinitePast() && now > last_) {
    tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * rate_per_second_);
  }
  if (last_ == absl::InfinitePast() || now > last_) last_ = now;
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    ++admitted_;
    return true;
  }
  ++suppressed_;
  return false;
}

uint64_t TokenBucket::admitted() const {
  absl::MutexLock lock(&mu_);
  return admitted_;
}

uint64_t TokenBucket::suppressed() const {
  absl::MutexLock lock(&mu_);
  return suppressed_;
}

}  // namespace vmd::msr

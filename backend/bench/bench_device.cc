#include "backend/bench/bench_device.h"

#include <unistd.h>

#include <algorithm>

#include "backend/guest/guest_abi.h"

namespace vmd::engine::bench {

static_assert(BenchDevice::kPorts == VMD_PORT_BENCH_COUNT);

void BenchDevice::Write(uint64_t offset, std::span<const uint8_t>) {
  if (offset != VMD_PORT_BENCH_MSI - VMD_PORT_BENCH) return;  // the null port
  std::lock_guard lock(mu_);
  if (eventfd_ < 0) return;
  const uint64_t one = 1;
  // A full counter (EAGAIN: 2^64-2 unconsumed signals) cannot happen: KVM
  // consumes the count on every signal.
  if (write(eventfd_, &one, sizeof(one)) == static_cast<ssize_t>(sizeof(one))) ++msi_requests_;
}

void BenchDevice::Read(uint64_t, std::span<uint8_t> data) { std::fill(data.begin(), data.end(), 0); }

void BenchDevice::ArmMsi(int eventfd) {
  std::lock_guard lock(mu_);
  eventfd_ = eventfd;
  msi_requests_ = 0;
}

void BenchDevice::DisarmMsi() {
  std::lock_guard lock(mu_);
  eventfd_ = -1;
}

uint64_t BenchDevice::msi_requests() const {
  std::lock_guard lock(mu_);
  return msi_requests_;
}

}  // namespace vmd::engine::bench

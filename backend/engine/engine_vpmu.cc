#include "backend/engine/engine_vpmu.h"

#include <time.h>

#include "backend/cpu/tsc_cycles.h"

namespace vmd::engine {
namespace {

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

pmu::LbrKind LbrOf(vmd::v1::LbrMode m) {
  switch (m) {
    case vmd::v1::LBR_MODE_LEGACY: return pmu::LbrKind::kLegacy;
    case vmd::v1::LBR_MODE_ARCH: return pmu::LbrKind::kArch;
    default: return pmu::LbrKind::kNone;
  }
}

pmu::PebsKind PebsOf(vmd::v1::PebsMode m) {
  switch (m) {
    case vmd::v1::PEBS_MODE_BASIC: return pmu::PebsKind::kBasic;
    case vmd::v1::PEBS_MODE_ADAPTIVE: return pmu::PebsKind::kAdaptive;
    default: return pmu::PebsKind::kNone;
  }
}

}  // namespace

pmu::VirtualPmuShape ShapeOf(const vmd::v1::GuestPmu& g) {
  pmu::VirtualPmuShape s;
  s.version = g.version();
  s.gp_counters = g.gp_counters();
  if (g.gp_counter_width() != 0) s.gp_counter_width = g.gp_counter_width();
  s.fixed_counters = g.fixed_counters();
  s.fixed_counter_bitmap = g.fixed_counter_bitmap();
  if (g.fixed_counter_width() != 0) s.fixed_counter_width = g.fixed_counter_width();
  s.unavailable_events = g.unavailable_events();
  s.pdcm = g.pdcm();
  s.perf_capabilities = g.perf_capabilities();
  s.lbr = LbrOf(g.lbr());
  s.lbr_depth = g.lbr_depth();
  s.arch_lbr_depth_bitmap = g.arch_lbr_depth_bitmap();
  s.pebs = PebsOf(g.pebs());
  return s;
}

VcpuRunClock::VcpuRunClock(uint32_t vcpus, uint64_t tsc_khz)
    : tsc_khz_(tsc_khz), slots_(new Slot[vcpus]), vcpus_(vcpus) {}

void VcpuRunClock::Enter(uint32_t vcpu) { slots_[vcpu].entered_ns.store(MonotonicNs(), std::memory_order_relaxed); }

void VcpuRunClock::Leave(uint32_t vcpu) {
  Slot& s = slots_[vcpu];
  const int64_t entered = s.entered_ns.exchange(0, std::memory_order_relaxed);
  if (entered != 0) s.run_ns.fetch_add(MonotonicNs() - entered, std::memory_order_relaxed);
}

uint64_t VcpuRunClock::CoreCycles(uint32_t vcpu) {
  if (vcpu >= vcpus_) return 0;
  const Slot& s = slots_[vcpu];
  int64_t ns = s.run_ns.load(std::memory_order_relaxed);
  if (const int64_t entered = s.entered_ns.load(std::memory_order_relaxed); entered != 0) ns += MonotonicNs() - entered;
  return cpu::NsToCycles(static_cast<uint64_t>(ns), tsc_khz_);
}

EngineVpmu::EngineVpmu(const vmd::v1::GuestPmu& guest, uint32_t vcpus, uint64_t tsc_khz)
    : vcpus_(vcpus), clock_(vcpus, tsc_khz), pmu_(ShapeOf(guest), vcpus, &clock_), slots_(new VcpuSlot[vcpus]) {}

EngineVpmu::~EngineVpmu() {
  stop_ = true;
  if (watch_.joinable()) watch_.join();
}

void EngineVpmu::WatchOverflows(std::chrono::microseconds period, std::function<void(uint32_t)> kick) {
  watch_ = std::thread([this, period, kick = std::move(kick)] {
    while (!stop_) {
      std::this_thread::sleep_for(period);
      for (uint32_t v = 0; v < vcpus_; ++v) {
        bool due;
        {
          std::lock_guard lock(slots_[v].mu);
          slots_[v].pmi_due |= pmu_.TakePmi(v);
          due = slots_[v].pmi_due;
        }
        if (due) kick(v);
      }
    }
  });
}

bool EngineVpmu::TakePmi(uint32_t vcpu) {
  std::lock_guard lock(slots_[vcpu].mu);
  const bool due = slots_[vcpu].pmi_due || pmu_.TakePmi(vcpu);
  slots_[vcpu].pmi_due = false;
  return due;
}

absl::Status EngineVpmu::Attach(MsrExitRouter& router) {
  std::vector<msr::MsrClaim> claims;
  for (const auto& [first, count] : pmu_.MsrRanges()) {
    claims.push_back({.owner = "vpmu", .first = first, .count = count});
  }
  return router.Claim("vpmu", std::move(claims), this);
}

std::map<uint32_t, uint64_t> EngineVpmu::Save(uint32_t vcpu) {
  std::lock_guard lock(slots_[vcpu].mu);
  return pmu_.Save(vcpu);
}

void EngineVpmu::Restore(uint32_t vcpu, const std::map<uint32_t, uint64_t>& msrs) {
  std::lock_guard lock(slots_[vcpu].mu);
  pmu_.Restore(vcpu, msrs);
}

msr::MsrAccessResult EngineVpmu::ReadMsr(uint32_t vcpu, uint32_t index) {
  if (vcpu >= vcpus_) return msr::MsrAccessResult::Gp();
  std::lock_guard lock(slots_[vcpu].mu);
  std::optional<uint64_t> value = pmu_.Read(vcpu, index);
  return value ? msr::MsrAccessResult::Value(*value) : msr::MsrAccessResult::Gp();
}

msr::MsrAccessResult EngineVpmu::WriteMsr(uint32_t vcpu, uint32_t index, uint64_t value) {
  if (vcpu >= vcpus_) return msr::MsrAccessResult::Gp();
  std::lock_guard lock(slots_[vcpu].mu);
  return pmu_.Write(vcpu, index, value) ? msr::MsrAccessResult::Value(0) : msr::MsrAccessResult::Gp();
}

}  // namespace vmd::engine

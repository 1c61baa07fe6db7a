#include "backend/pmu/pmu_negotiation.h"

#include <algorithm>
#include <bit>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backend/cpu/cpuid.h"
#include "backend/cpu/cpuid_builder.h"
#include "backend/pmu/guest_pmu_leaves.h"
#include "backend/pmu/perf_capabilities.h"
#include "backend/pmu/pmu_spec_validation.h"
#include "backend/rpc/error_details.h"

namespace vmd::pmu {
namespace {

// CPUID.0xA.EBX bits (PmuArchEvent - 1).
constexpr uint32_t kCoreCyclesBit = 1u << 0;
constexpr uint32_t kRefCyclesBit = 1u << 2;
constexpr uint32_t kArchEventCount = 8;
constexpr uint32_t kAllEvents = (1u << kArchEventCount) - 1;
// Fixed counters: 0 instructions, 1 core cycles, 2 reference cycles, 3
// topdown slots.
constexpr uint32_t kCycleFixedCounters = 0b0110;

uint32_t LowBits(uint32_t n) { return n >= 32 ? ~0u : (1u << n) - 1; }
// Fixed counters 0..n-1 that a set starts with (what EDX[4:0] can say).
uint32_t ContiguousFromZero(uint32_t set) { return static_cast<uint32_t>(std::countr_one(set)); }

std::string CounterSet(uint32_t set) {
  if (set == 0) return "none";
  std::vector<uint32_t> ids;
  for (uint32_t i = 0; i < kMaxFixedCounters; ++i) {
    if (set & (1u << i)) ids.push_back(i);
  }
  return absl::StrJoin(ids, ",");
}

std::string EventNames(uint32_t bits) {
  if (bits == 0) return "none";
  std::vector<std::string> names;
  for (uint32_t i = 0; i < kArchEventCount; ++i) {
    if (bits & (1u << i)) {
      std::string n = v1::PmuArchEvent_Name(static_cast<v1::PmuArchEvent>(i + 1));
      names.push_back(absl::AsciiStrToLower(n.substr(sizeof("PMU_ARCH_EVENT_") - 1)));
    }
  }
  return absl::StrJoin(names, ",");
}

std::string LbrText(v1::LbrMode mode, uint32_t depth) {
  switch (mode) {
    case v1::LBR_MODE_LEGACY: return depth ? absl::StrCat("legacy, depth ", depth) : "legacy";
    case v1::LBR_MODE_ARCH: return depth ? absl::StrCat("arch, depth ", depth) : "arch";
    default: return "off";
  }
}

std::string PebsText(v1::PebsMode mode) {
  switch (mode) {
    case v1::PEBS_MODE_BASIC: return "basic";
    case v1::PEBS_MODE_ADAPTIVE: return "adaptive";
    default: return "off";
  }
}

bool LbrOn(v1::LbrMode m) { return m == v1::LBR_MODE_LEGACY || m == v1::LBR_MODE_ARCH; }
bool PebsOn(v1::PebsMode m) { return m == v1::PEBS_MODE_BASIC || m == v1::PEBS_MODE_ADAPTIVE; }

// What the VM asks for, in one shape whatever the mode.
struct Wanted {
  uint32_t version = 0;
  uint32_t gp = 0;
  uint32_t fixed = 0;        // the set of fixed counters
  bool any_events = true;    // no list: whatever the layer counts
  uint32_t events = 0;       // CPUID.0xA.EBX bit order, a set bit = wanted
  v1::LbrMode lbr = v1::LBR_MODE_OFF;
  uint32_t lbr_depth = 0;    // 0: the layer's
  v1::PebsMode pebs = v1::PEBS_MODE_OFF;
  bool filter = false;
};

Wanted FromCustom(const v1::PmuCustom& c) {
  Wanted w{.version = c.version(), .gp = c.gp_counters(),
           .fixed = LowBits(c.fixed_counters()) | c.fixed_counter_bitmap(),
           .any_events = c.events().empty(), .lbr = c.lbr(), .lbr_depth = c.lbr_depth(), .pebs = c.pebs()};
  for (int e : c.events()) w.events |= 1u << (e - 1);
  if (!LbrOn(w.lbr)) w.lbr = v1::LBR_MODE_OFF;
  if (!PebsOn(w.pebs)) w.pebs = v1::PEBS_MODE_OFF;
  return w;
}

// PMU_MODE_HOST: the host's shape, everything it has.
Wanted FromHost(const v1::HostPmu& h) {
  Wanted w{.version = h.version(), .gp = h.gp_counters(),
           .fixed = h.version() >= 2 ? LowBits(h.fixed_counters()) : 0u,
           .any_events = false, .events = ~h.unavailable_events() & LowBits(h.event_mask_length()) & kAllEvents};
  if (h.arch_lbr_depth_bitmap() != 0) {
    w.lbr = v1::LBR_MODE_ARCH;
  } else if (h.lbr_depth() != 0 && h.lbr_format() != 0) {
    w.lbr = v1::LBR_MODE_LEGACY;
  }
  if (h.guest_pebs()) w.pebs = h.pebs_baseline() ? v1::PEBS_MODE_ADAPTIVE : v1::PEBS_MODE_BASIC;
  return w;
}

// What one layer can give this guest on this host, each limit with why.
struct Offer {
  v1::PmuLayer layer = v1::PMU_LAYER_NONE;
  std::string why_not;  // non-empty: the layer is not there
  uint32_t max_version = 0;
  std::string version_reason;
  uint32_t max_gp = 0;
  std::string gp_reason;
  uint32_t fixed = 0;  // the fixed counters it can give
  std::string fixed_reason;
  uint32_t gp_width = 48, fixed_width = 48;
  uint32_t events = 0;  // the events it counts
  uint32_t event_mask_length = kArchEventCount;
  std::string events_reason;
  bool legacy_lbr = false;
  uint32_t lbr_format = 0, lbr_depth = 0;
  std::string lbr_reason;
  uint32_t arch_lbr_depths = 0;
  std::string arch_lbr_reason;
  bool pebs = false, pebs_baseline = false;
  std::string pebs_reason;
  bool filter = false;
  std::string filter_reason;
  uint64_t supported_perf_caps = 0;
  std::string counts;
};

Offer KvmOffer(const v1::HostPmu& h, const PmuTarget& t) {
  Offer o{.layer = v1::PMU_LAYER_KVM};
  if (!h.kvm().available()) {
    o.why_not = absl::StrCat("KVM's vPMU: ", h.kvm().reason());
    return o;
  }
  if (cpu::CpuVendorName(t.guest_vendor) != h.vendor()) {
    o.why_not = absl::StrCat("KVM's vPMU is the host's ", h.vendor(), " PMU; the guest CPU is ",
                             cpu::CpuVendorName(t.guest_vendor));
    return o;
  }
  o.max_version = std::min(h.version(), h.kvm().max_version());
  o.version_reason = h.kvm().max_version() < h.version()
                         ? absl::StrCat("KVM caps the vPMU at version ", h.kvm().max_version(),
                                        " (upstream; the seed 004 series raises it to 5)")
                         : absl::StrCat("the host PMU is version ", h.version());
  o.max_gp = h.gp_counters();
  o.gp_reason = absl::StrCat("the host has ", h.gp_counters(), " GP counters");
  o.fixed = LowBits(h.fixed_counters());
  o.fixed_reason = absl::StrCat("the host has fixed counters ", CounterSet(o.fixed));
  o.gp_width = h.gp_counter_width();
  o.fixed_width = h.fixed_counter_width();
  o.event_mask_length = std::min(h.event_mask_length(), kArchEventCount);
  o.events = ~h.unavailable_events() & LowBits(o.event_mask_length);
  o.events_reason = "the host lacks it";
  o.lbr_format = h.lbr_format();
  o.lbr_depth = h.lbr_depth();
  if (h.lbr_depth() == 0 || h.lbr_format() == 0 || h.lbr_format() == kLbrFormatArch) {
    o.lbr_reason = "the host has no legacy LBR";
  } else if (!t.model_is_host) {
    o.lbr_reason = "LBR is model-specific: the guest CPU model must be the host's (seeds 000, 003)";
  } else {
    o.legacy_lbr = true;
  }
  if (h.arch_lbr_depth_bitmap() == 0) {
    o.arch_lbr_reason = "the host has no Arch LBR";
  } else if (!h.kvm().arch_lbr()) {
    o.arch_lbr_reason = "the host kernel gives guests no Arch LBR (seed 001 was never merged upstream)";
  } else {
    o.arch_lbr_depths = h.arch_lbr_depth_bitmap();
  }
  if (!h.guest_pebs()) {
    o.pebs_reason = "the host cannot give guests PEBS (PEBS via DS needs Ice Lake server or later, seed 002)";
  } else if (h.host_uses_pebs()) {
    o.pebs_reason = "the host's perf uses PEBS now; guests get none meanwhile (seed 002)";
  } else if (!t.model_is_host) {
    o.pebs_reason = "PEBS needs the guest CPU model to be the host's (seed 002)";
  } else {
    o.pebs = true;
    o.pebs_baseline = h.pebs_baseline();
  }
  o.filter = h.kvm().event_filter();
  if (!o.filter) o.filter_reason = "KVM lacks KVM_CAP_PMU_EVENT_FILTER";
  o.supported_perf_caps = h.perf_capabilities();
  o.counts = "KVM counts every granted event with the host's hardware counters";
  return o;
}

Offer EngineOffer(const v1::HostPmu& h, const PmuTarget& t) {
  Offer o{.layer = v1::PMU_LAYER_ENGINE};
  if (t.guest_vendor != cpu::CpuVendor::kIntel) {
    o.why_not = "the engine emulates the Intel architectural PMU only, not AMD's PerfCtr/PerfMonV2";
    return o;
  }
  o.max_version = h.engine_max_version();
  o.version_reason = absl::StrCat("the engine emulates up to version ", h.engine_max_version());
  o.max_gp = kMaxGpCounters;
  o.gp_reason = "at most 8 GP counters (IA32_PMC0-7)";
  o.fixed = kCycleFixedCounters;
  o.fixed_reason =
      "the engine counts only cycles: fixed counter 0 (instructions retired) and 3 (topdown slots) cannot count";
  o.events = kCoreCyclesBit | kRefCyclesBit;
  o.events_reason = "the engine counts only core and reference cycles (from the vCPU's run time)";
  o.lbr_reason = o.arch_lbr_reason = "the engine cannot record branches: LBR needs KVM's vPMU";
  o.pebs_reason = "the engine cannot sample: PEBS needs KVM's vPMU";
  o.filter_reason = "the engine's vPMU applies no event filter (KVM_SET_PMU_EVENT_FILTER is KVM's)";
  o.supported_perf_caps = kPerfCapFwWrites;
  o.counts =
      "the engine counts core cycles (0x3c/0x00, fixed counter 1) and reference cycles (0x3c/0x01, fixed counter "
      "2) from the vCPU's run time; no other event advances";
  return o;
}

class GrantBuilder {
 public:
  GrantBuilder(const Wanted& w, const v1::PmuSpec& spec, const Offer& o, const PmuTarget& t)
      : w_(w), spec_(spec), o_(o), t_(t) {}

  v1::PmuGrant Build() {
    v1::GuestPmu& g = *grant_.mutable_guest();
    const bool layer = o_.why_not.empty();
    g.set_layer(layer ? o_.layer : v1::PMU_LAYER_NONE);
    if (layer) g.set_counts(o_.counts);
    Item("pmu", "on", layer ? LayerName(o_.layer) : "none", layer, layer ? "" : o_.why_not);

    const uint32_t version = layer ? std::min(w_.version, o_.max_version) : 0;
    g.set_version(version);
    Item("version", absl::StrCat(w_.version), absl::StrCat(version), version == w_.version, o_.version_reason);

    const uint32_t gp = version ? std::min(w_.gp, o_.max_gp) : 0;
    g.set_gp_counters(gp);
    if (gp) g.set_gp_counter_width(o_.gp_width);
    Item("gp_counters", absl::StrCat(w_.gp), absl::StrCat(gp), gp == w_.gp, version ? o_.gp_reason : NoPmu());

    Fixed(version, g);
    Events(version, g);
    Lbr(version, g);
    Pebs(version, gp, g);
    Filter(version, g);
    PerfCapabilities(version, g);
    Cpuid(g);

    bool all = true;
    for (const v1::PmuGrantItem& i : grant_.items()) all &= i.satisfied();
    grant_.set_satisfied(all);
    return std::move(grant_);
  }

 private:
  static std::string LayerName(v1::PmuLayer l) {
    return l == v1::PMU_LAYER_KVM ? "kvm (in-kernel)" : "engine (user space)";
  }
  std::string NoPmu() const { return o_.why_not.empty() ? "no PMU granted" : o_.why_not; }

  void Item(const std::string& item, const std::string& requested, const std::string& granted, bool satisfied,
            const std::string& reason) {
    v1::PmuGrantItem& i = *grant_.add_items();
    i.set_item(item);
    i.set_requested(requested);
    i.set_granted(granted);
    i.set_satisfied(satisfied);
    i.set_layer(satisfied && o_.why_not.empty() && granted != "off" && granted != "none" ? o_.layer
                                                                                         : v1::PMU_LAYER_NONE);
    if (!satisfied) i.set_reason(reason);
  }

  // Fixed counters: version 5 may skip counters (CPUID.0xA.ECX); below it
  // only 0..n-1 can exist (seed 004: "exists iff ECX[i] || EDX[4:0] > i").
  void Fixed(uint32_t version, v1::GuestPmu& g) {
    uint32_t set = version >= 2 ? w_.fixed & o_.fixed : 0;
    if (version < 5) set = LowBits(ContiguousFromZero(set));
    g.set_fixed_counters(ContiguousFromZero(set));
    g.set_fixed_counter_bitmap(version >= 5 ? set : 0);
    if (set) g.set_fixed_counter_width(o_.fixed_width);
    std::string reason = version < 2 ? (version ? "fixed counters need version 2" : NoPmu()) : o_.fixed_reason;
    if (version >= 2 && version < 5 && (w_.fixed & o_.fixed) != set) {
      reason += "; below version 5 fixed counters are 0..n-1 only";
    }
    Item("fixed_counters", CounterSet(w_.fixed), CounterSet(set), set == w_.fixed, reason);
  }

  void Events(uint32_t version, v1::GuestPmu& g) {
    const uint32_t counted = version ? o_.events : 0;
    g.set_event_mask_length(version ? o_.event_mask_length : 0);
    g.set_unavailable_events(version ? ~counted & LowBits(o_.event_mask_length) : 0);
    const uint32_t missing = w_.any_events ? 0 : w_.events & ~counted;
    Item("events", w_.any_events ? "any" : EventNames(w_.events), EventNames(w_.any_events ? counted : w_.events & counted),
         missing == 0, absl::StrCat(EventNames(missing), ": ", version ? o_.events_reason : NoPmu()));
  }

  void Lbr(uint32_t version, v1::GuestPmu& g) {
    v1::LbrMode granted = v1::LBR_MODE_OFF;
    uint32_t depth = 0;
    std::string reason;
    if (w_.lbr == v1::LBR_MODE_LEGACY) {
      if (version < 2) {
        reason = "LBR needs version 2 or later";
      } else if (!o_.legacy_lbr) {
        reason = o_.lbr_reason;
      } else if (w_.lbr_depth != 0 && w_.lbr_depth != o_.lbr_depth) {
        reason = absl::StrCat("the host's LBR depth is ", o_.lbr_depth, " (legacy LBR depth is the model's)");
      } else {
        granted = v1::LBR_MODE_LEGACY;
        depth = o_.lbr_depth;
      }
    } else if (w_.lbr == v1::LBR_MODE_ARCH) {
      // Depth bit n => 8 * (n + 1); the guest is offered every depth up to
      // the one asked for (0: the host's deepest).
      const uint32_t deepest = o_.arch_lbr_depths ? 8u * std::bit_width(o_.arch_lbr_depths) : 0;
      const uint32_t want = w_.lbr_depth ? w_.lbr_depth : deepest;
      if (version < 2) {
        reason = "LBR needs version 2 or later";
      } else if (o_.arch_lbr_depths == 0) {
        reason = o_.arch_lbr_reason;
      } else if (!(o_.arch_lbr_depths & (1u << (want / 8 - 1)))) {
        reason = absl::StrFormat("the host's Arch LBR depths are bitmap 0x%x (bit n: depth 8*(n+1))",
                                 o_.arch_lbr_depths);
      } else {
        granted = v1::LBR_MODE_ARCH;
        depth = want;
        g.set_arch_lbr_depth_bitmap(o_.arch_lbr_depths & LowBits(want / 8));
      }
    }
    g.set_lbr(granted);
    g.set_lbr_depth(depth);
    Item("lbr", LbrText(w_.lbr, w_.lbr_depth), LbrText(granted, depth), granted == w_.lbr, reason);
  }

  void Pebs(uint32_t version, uint32_t gp, v1::GuestPmu& g) {
    v1::PebsMode granted = v1::PEBS_MODE_OFF;
    std::string reason;
    if (PebsOn(w_.pebs)) {
      if (version < 2 || gp == 0) {
        reason = "PEBS needs version 2 or later and a GP counter";
      } else if (!o_.pebs) {
        reason = o_.pebs_reason;
      } else if (w_.pebs == v1::PEBS_MODE_ADAPTIVE && !o_.pebs_baseline) {
        reason = "the host has no adaptive PEBS (PERF_CAPABILITIES.PEBS_BASELINE)";
      } else {
        // KVM takes only the host's PEBS fields whole: basic on an adaptive
        // host is adaptive.
        granted = o_.pebs_baseline ? v1::PEBS_MODE_ADAPTIVE : v1::PEBS_MODE_BASIC;
      }
    }
    g.set_pebs(granted);
    g.set_ds(PebsOn(granted));
    g.set_dtes64(PebsOn(granted));
    const bool covers = w_.pebs == granted || (w_.pebs == v1::PEBS_MODE_BASIC && granted == v1::PEBS_MODE_ADAPTIVE);
    Item("pebs", PebsText(w_.pebs), PebsText(granted), covers, reason);
  }

  void Filter(uint32_t version, v1::GuestPmu& g) {
    if (!spec_.has_event_filter() || spec_.event_filter().action() == v1::PMU_FILTER_ACTION_UNSPECIFIED) return;
    const v1::PmuEventFilter& f = spec_.event_filter();
    const std::string what = absl::StrCat(f.action() == v1::PMU_FILTER_ACTION_ALLOW ? "allow " : "deny ",
                                          f.events_size(), " events");
    const bool ok = version != 0 && o_.filter;
    if (ok) *g.mutable_event_filter() = f;
    Item("event_filter", what, ok ? what : "none", ok, version ? o_.filter_reason : NoPmu());
  }

  // The value the guest reads, checked against KVM's rules for the host
  // write that sets it (vmx_pmu_caps_test).
  void PerfCapabilities(uint32_t version, v1::GuestPmu& g) {
    // An Intel MSR, announced (PDCM) with version 2 on, as KVM's vPMU does.
    if (version < 2 || t_.guest_vendor != cpu::CpuVendor::kIntel) return;
    uint64_t caps = o_.supported_perf_caps & kPerfCapFwWrites;
    if (g.lbr() == v1::LBR_MODE_LEGACY) caps |= o_.lbr_format & kPerfCapLbrFormat;
    if (g.lbr() == v1::LBR_MODE_ARCH) caps |= o_.supported_perf_caps & kPerfCapLbrFormat;
    if (PebsOn(g.pebs())) caps |= o_.supported_perf_caps & kPerfCapPebsMask;
    g.set_pdcm(true);
    g.set_perf_capabilities(caps);
    const absl::Status rule = CheckPerfCapabilitiesWrite(
        caps, {.supported = o_.supported_perf_caps, .pdcm = g.pdcm(), .ds = g.ds(), .dtes64 = g.dtes64(),
               .model_is_host = t_.model_is_host || o_.layer == v1::PMU_LAYER_ENGINE});
    Item("perf_capabilities", "valid", absl::StrFormat("0x%x", caps), rule.ok(), std::string(rule.message()));
  }

  // The PMU's CPUID bits as the guest sees them (the rest of each leaf is
  // the builder's base).
  void Cpuid(v1::GuestPmu& g) {
    if (t_.guest_vendor == cpu::CpuVendor::kAmd) return AmdCpuid(g);
    cpu::CpuidTable table = {cpu::Leaf(0, 0x1c, 0, 0, 0), cpu::Leaf(1, 0, 0, 0, 0), cpu::Subleaf(7, 0, 0, 0, 0, 0)};
    cpu::SetPmuLeaves(table, LeavesOf(g));
    for (uint32_t function : {1u, 7u, 0xau, 0x1cu}) {
      const cpu::CpuidEntry* e = cpu::FindCpuid(table, function, 0);
      if (e == nullptr) continue;
      v1::CpuidValue& v = *g.add_cpuid();
      v.set_function(e->function);
      v.set_index(e->index);
      v.set_eax(e->eax);
      v.set_ebx(e->ebx);
      v.set_ecx(e->ecx);
      v.set_edx(e->edx);
    }
  }

  // AMD describes its core counters in 0x80000001:ECX[23] (PerfCtrExtCore)
  // and 0x80000022 (PerfMonV2: EAX[0], EBX[3:0] counters).
  void AmdCpuid(v1::GuestPmu& g) {
    v1::CpuidValue& ext1 = *g.add_cpuid();
    ext1.set_function(0x80000001);
    if (g.gp_counters() > 4) ext1.set_ecx(1u << 23);
    v1::CpuidValue& v2 = *g.add_cpuid();
    v2.set_function(0x80000022);
    if (g.version() >= 2) {
      v2.set_eax(1);
      v2.set_ebx(g.gp_counters() & 0xf);
    }
  }

  const Wanted& w_;
  const v1::PmuSpec& spec_;
  const Offer& o_;
  const PmuTarget& t_;
  v1::PmuGrant grant_;
};

int SatisfiedItems(const v1::PmuGrant& g) {
  return static_cast<int>(std::count_if(g.items().begin(), g.items().end(),
                                        [](const v1::PmuGrantItem& i) { return i.satisfied(); }));
}

void SetHostFields(v1::PmuGrant& g, const v1::HostPmu& h, const PmuTarget& t) {
  g.set_host(t.host);
  g.set_host_family(h.cpu_family());
  g.set_host_model(h.cpu_model());
  g.set_host_lbr_format(h.lbr_format());
  g.set_vendor(std::string(cpu::CpuVendorName(t.guest_vendor)));
}

}  // namespace

v1::PmuGrant NegotiatePmu(const v1::PmuSpec& spec, const v1::HostPmu& host, const PmuTarget& target) {
  v1::PmuGrant grant;
  if (spec.mode() == v1::PMU_MODE_OFF || spec.mode() == v1::PMU_MODE_UNSPECIFIED) {
    v1::PmuGrantItem& item = *grant.add_items();
    item.set_item("pmu");
    item.set_requested("off");
    item.set_granted("off");
    item.set_satisfied(true);
    item.set_layer(v1::PMU_LAYER_NONE);
    grant.set_satisfied(true);
    grant.mutable_guest()->set_layer(v1::PMU_LAYER_NONE);
    SetHostFields(grant, host, target);
    return grant;
  }
  if (spec.mode() == v1::PMU_MODE_HOST && !host.present()) {
    v1::PmuGrantItem& item = *grant.add_items();
    item.set_item("pmu");
    item.set_requested("host");
    item.set_granted("off");
    item.set_layer(v1::PMU_LAYER_NONE);
    item.set_reason(host.reason());
    grant.mutable_guest()->set_layer(v1::PMU_LAYER_NONE);
    SetHostFields(grant, host, target);
    return grant;
  }
  const Wanted wanted = spec.mode() == v1::PMU_MODE_HOST ? FromHost(host) : FromCustom(spec.custom());
  std::optional<v1::PmuGrant> best;
  std::vector<std::string> absent;
  for (const Offer& offer : {KvmOffer(host, target), EngineOffer(host, target)}) {
    if (!offer.why_not.empty()) {
      absent.push_back(offer.why_not);
      continue;
    }
    v1::PmuGrant candidate = GrantBuilder(wanted, spec, offer, target).Build();
    if (!best || (!best->satisfied() && SatisfiedItems(candidate) > SatisfiedItems(*best))) best = candidate;
    if (best->satisfied()) break;
  }
  if (!best) {
    const Offer none{.why_not = absl::StrCat("no layer can give this guest a PMU: ", absl::StrJoin(absent, "; "))};
    best = GrantBuilder(wanted, spec, none, target).Build();
  }
  SetHostFields(*best, host, target);
  return *std::move(best);
}

absl::Status RefuseUnlessGranted(const v1::PmuSpec& spec, const v1::PmuGrant& grant, const std::string& vm) {
  if (grant.satisfied() || spec.policy() == v1::PMU_POLICY_BEST_EFFORT) return absl::OkStatus();
  std::vector<std::string> items;
  for (const v1::PmuGrantItem& i : grant.items()) {
    if (!i.satisfied()) {
      items.push_back(absl::StrCat(i.item(), ": asked ", i.requested(), ", can have ", i.granted(), " (", i.reason(),
                                   ")"));
    }
  }
  return rpc::PreconditionFailed(
      "PMU_NOT_GRANTED", "PMU", absl::StrCat("vms/", vm),
      absl::StrCat("vm ", vm, ": the PMU asked for cannot be given on ", grant.host(), ": ",
                   absl::StrJoin(items, "; "), ". Ask for less, or set spec.pmu.policy BEST_EFFORT"));
}

absl::Status GrantRunsOn(const v1::PmuGrant& grant, const v1::HostPmu& host, const PmuTarget& target) {
  const v1::GuestPmu& g = grant.guest();
  std::vector<std::string> misfits;
  if (g.layer() == v1::PMU_LAYER_KVM) {
    const Offer o = KvmOffer(host, target);
    if (!o.why_not.empty()) {
      misfits.push_back(o.why_not);
    } else {
      if (g.version() > o.max_version) misfits.push_back(absl::StrCat("version ", g.version(), ": ", o.version_reason));
      if (g.gp_counters() > o.max_gp) misfits.push_back(absl::StrCat("gp_counters ", g.gp_counters(), ": ", o.gp_reason));
      const uint32_t fixed = g.fixed_counter_bitmap() | LowBits(g.fixed_counters());
      if (fixed & ~o.fixed) misfits.push_back(absl::StrCat("fixed counters ", CounterSet(fixed), ": ", o.fixed_reason));
      const uint32_t events = ~g.unavailable_events() & LowBits(g.event_mask_length());
      if (events & ~o.events) misfits.push_back(absl::StrCat("events ", EventNames(events & ~o.events), ": the host lacks them"));
      if (g.lbr() == v1::LBR_MODE_LEGACY &&
          (!o.legacy_lbr || host.lbr_format() != grant.host_lbr_format() || host.cpu_model() != grant.host_model() ||
           host.cpu_family() != grant.host_family())) {
        misfits.push_back("legacy LBR needs the same LBR format and CPU model as the source host (seeds 000, 003)");
      }
      if (g.lbr() == v1::LBR_MODE_ARCH && (g.arch_lbr_depth_bitmap() & ~o.arch_lbr_depths) != 0) {
        misfits.push_back(absl::StrCat("Arch LBR: ", o.arch_lbr_reason.empty() ? "depths differ" : o.arch_lbr_reason));
      }
      if (PebsOn(g.pebs()) && (!o.pebs || (g.pebs() == v1::PEBS_MODE_ADAPTIVE) != o.pebs_baseline)) {
        misfits.push_back(absl::StrCat("PEBS: ", o.pebs_reason.empty() ? "the PEBS format differs" : o.pebs_reason));
      }
    }
  } else if (g.layer() == v1::PMU_LAYER_ENGINE) {
    const Offer o = EngineOffer(host, target);
    if (!o.why_not.empty()) misfits.push_back(o.why_not);
    if (g.version() > host.engine_max_version()) misfits.push_back(o.version_reason);
  }
  if (misfits.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat("the PMU granted on ", grant.host(), " cannot run on ", target.host, ": ",
                   absl::StrJoin(misfits, "; ")));
}

}  // namespace vmd::pmu

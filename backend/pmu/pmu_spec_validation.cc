#include "backend/pmu/pmu_spec_validation.h"

#include <set>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "backend/rpc/error_details.h"

namespace vmd::pmu {
namespace {

absl::Status ValidateCustom(const v1::PmuCustom& c, const std::string& field) {
  auto invalid = [&](absl::string_view name, absl::string_view rule) {
    return rpc::InvalidField(absl::StrCat(field, ".", name), rule);
  };
  if (c.version() < 1 || c.version() > kMaxPmuVersion) {
    return invalid("version", absl::StrCat("must be 1..", kMaxPmuVersion, ", got ", c.version()));
  }
  if (c.gp_counters() > kMaxGpCounters) {
    return invalid("gp_counters", absl::StrCat("must be at most ", kMaxGpCounters, ", got ", c.gp_counters()));
  }
  if (c.fixed_counters() > kMaxFixedCounters) {
    return invalid("fixed_counters",
                   absl::StrCat("must be at most ", kMaxFixedCounters, ", got ", c.fixed_counters()));
  }
  if ((c.fixed_counters() != 0 || c.fixed_counter_bitmap() != 0) && c.version() < 2) {
    return invalid("fixed_counters", "needs version 2 or later (CPUID.0xA.EDX is defined from version 2 on)");
  }
  if (c.fixed_counter_bitmap() != 0 && c.version() < 5) {
    return invalid("fixed_counter_bitmap", "needs version 5 (CPUID.0xA.ECX is defined from version 5 on)");
  }
  if (c.fixed_counter_bitmap() >> kMaxFixedCounters != 0) {
    return invalid("fixed_counter_bitmap", absl::StrCat("only bits 0..", kMaxFixedCounters - 1, " exist"));
  }
  std::set<int> events;
  for (int i = 0; i < c.events_size(); ++i) {
    const int e = c.events(i);
    if (!v1::PmuArchEvent_IsValid(e) || e == v1::PMU_ARCH_EVENT_UNSPECIFIED) {
      return invalid(absl::StrCat("events[", i, "]"), absl::StrCat("unknown event ", e));
    }
    if (!events.insert(e).second) return invalid(absl::StrCat("events[", i, "]"), "is listed twice");
  }
  if (!v1::LbrMode_IsValid(c.lbr())) return invalid("lbr", absl::StrCat("unknown value ", c.lbr()));
  const bool lbr = c.lbr() == v1::LBR_MODE_LEGACY || c.lbr() == v1::LBR_MODE_ARCH;
  if (c.lbr_depth() != 0 && !lbr) return invalid("lbr_depth", "needs lbr LEGACY or ARCH");
  if (lbr && c.version() < 2) return invalid("lbr", "needs version 2 or later (LBR freezing is defined by v2)");
  if (c.lbr() == v1::LBR_MODE_ARCH && c.lbr_depth() != 0 &&
      (c.lbr_depth() % 8 != 0 || c.lbr_depth() > kMaxArchLbrDepth)) {
    return invalid("lbr_depth", absl::StrCat("Arch LBR depths are multiples of 8 up to ", kMaxArchLbrDepth,
                                             " (CPUID 0x1C EAX), got ", c.lbr_depth()));
  }
  if (c.lbr() == v1::LBR_MODE_LEGACY && c.lbr_depth() > kMaxArchLbrDepth) {
    return invalid("lbr_depth", absl::StrCat("must be at most ", kMaxArchLbrDepth, ", got ", c.lbr_depth()));
  }
  if (!v1::PebsMode_IsValid(c.pebs())) return invalid("pebs", absl::StrCat("unknown value ", c.pebs()));
  const bool pebs = c.pebs() == v1::PEBS_MODE_BASIC || c.pebs() == v1::PEBS_MODE_ADAPTIVE;
  if (pebs && (c.version() < 2 || c.gp_counters() == 0)) {
    return invalid("pebs", "needs version 2 or later and at least one GP counter");
  }
  return absl::OkStatus();
}

absl::Status ValidateFilter(const v1::PmuEventFilter& f, const std::string& field) {
  auto invalid = [&](absl::string_view name, absl::string_view rule) {
    return rpc::InvalidField(absl::StrCat(field, ".", name), rule);
  };
  if (!v1::PmuFilterAction_IsValid(f.action())) return invalid("action", absl::StrCat("unknown value ", f.action()));
  if (f.action() == v1::PMU_FILTER_ACTION_UNSPECIFIED && (f.events_size() != 0 || f.fixed_counter_bitmap() != 0)) {
    return invalid("action", "is required with events or a fixed_counter_bitmap: ALLOW or DENY");
  }
  if (f.events_size() > kMaxFilterEvents) {
    return invalid("events", absl::StrCat("at most ", kMaxFilterEvents, " (KVM_PMU_EVENT_FILTER_MAX_EVENTS), got ",
                                          f.events_size()));
  }
  std::set<std::pair<uint32_t, uint32_t>> seen;
  for (int i = 0; i < f.events_size(); ++i) {
    const v1::PmuEvent& e = f.events(i);
    const std::string at = absl::StrCat("events[", i, "]");
    if (e.event_select() > 0xfff) return invalid(at + ".event_select", "must be at most 0xfff (12 bits)");
    if (e.unit_mask() > 0xff) return invalid(at + ".unit_mask", "must be at most 0xff");
    if (!seen.insert({e.event_select(), e.unit_mask()}).second) return invalid(at, "is listed twice");
  }
  if (f.fixed_counter_bitmap() >> kMaxFixedCounters != 0) {
    return invalid("fixed_counter_bitmap", absl::StrCat("only bits 0..", kMaxFixedCounters - 1, " exist"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePmuSpec(const v1::PmuSpec& spec, absl::string_view field) {
  const std::string f(field);
  if (!v1::PmuMode_IsValid(spec.mode())) return rpc::InvalidField(f + ".mode", absl::StrCat("unknown value ", spec.mode()));
  if (!v1::PmuPolicy_IsValid(spec.policy())) {
    return rpc::InvalidField(f + ".policy", absl::StrCat("unknown value ", spec.policy()));
  }
  if (spec.mode() == v1::PMU_MODE_CUSTOM) {
    if (!spec.has_custom()) return rpc::InvalidField(f + ".custom", "is required with mode CUSTOM");
    if (absl::Status s = ValidateCustom(spec.custom(), f + ".custom"); !s.ok()) return s;
  } else if (spec.has_custom()) {
    return rpc::InvalidField(f + ".custom", "applies only with mode CUSTOM");
  }
  const bool off = spec.mode() == v1::PMU_MODE_OFF || spec.mode() == v1::PMU_MODE_UNSPECIFIED;
  if (spec.has_event_filter()) {
    if (off) return rpc::InvalidField(f + ".event_filter", "needs a PMU (mode HOST or CUSTOM)");
    if (absl::Status s = ValidateFilter(spec.event_filter(), f + ".event_filter"); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace vmd::pmu

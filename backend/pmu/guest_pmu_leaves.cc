#include "backend/pmu/guest_pmu_leaves.h"

namespace vmd::pmu {

cpu::GuestPmuLeaves LeavesOf(const v1::GuestPmu& g) {
  return {.version = g.version(), .gp_counters = g.gp_counters(), .gp_counter_width = g.gp_counter_width(),
          .event_mask_length = g.event_mask_length(), .unavailable_events = g.unavailable_events(),
          .fixed_counter_bitmap = g.fixed_counter_bitmap(), .fixed_counters = g.fixed_counters(),
          .fixed_counter_width = g.fixed_counter_width(), .pdcm = g.pdcm(), .ds = g.ds(), .dtes64 = g.dtes64(),
          .arch_lbr_depth_bitmap = g.arch_lbr_depth_bitmap()};
}

}  // namespace vmd::pmu

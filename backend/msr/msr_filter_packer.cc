#include "backend/msr/msr_filter_packer.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "backend/msr/msr_index.h"
#include "backend/msr/msr_text.h"
#include "backend/rpc/error_details.h"

namespace vmd::msr {
namespace {

// Half-open MSR spans, sorted and disjoint.
struct Span {
  uint64_t begin;
  uint64_t end;
};
using Spans = std::vector<Span>;

// The last MSR no range can hold (see msr_filter_packer.h, step 5).
constexpr uint64_t kLastMsr = 0xffffffff;

void Append(Spans& out, uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  if (!out.empty() && out.back().end == begin) {
    out.back().end = end;
  } else {
    out.push_back({begin, end});
  }
}

bool WantsAllow(const MsrSegment& segment) { return segment.action == v1::MSR_ACTION_ALLOW; }

// Step 1: the MSRs whose wanted bit differs from the default's, without the
// x2APIC MSRs.
Spans Exceptions(const std::vector<MsrSegment>& segments, bool default_allow) {
  Spans out;
  for (const MsrSegment& s : segments) {
    if (WantsAllow(s) == default_allow) continue;
    Append(out, s.begin, std::min<uint64_t>(s.end, kX2apicFirst));
    Append(out, std::max<uint64_t>(s.begin, uint64_t{kX2apicLast} + 1), s.end);
  }
  return out;
}

Spans Intersect(const Spans& a, const Spans& b) {
  Spans out;
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    Append(out, std::max(a[i].begin, b[j].begin), std::min(a[i].end, b[j].end));
    if (a[i].end < b[j].end) {
      ++i;
    } else {
      ++j;
    }
  }
  return out;
}

Spans Subtract(const Spans& a, const Spans& b) {
  Spans out;
  size_t j = 0;
  for (const Span& span : a) {
    uint64_t pos = span.begin;
    while (j < b.size() && b[j].end <= pos) ++j;
    for (size_t k = j; k < b.size() && b[k].begin < span.end; ++k) {
      Append(out, pos, std::min(b[k].begin, span.end));
      pos = std::max(pos, b[k].end);
    }
    Append(out, pos, span.end);
  }
  return out;
}

bool Overlaps(const Spans& spans, uint64_t begin, uint64_t end) {
  auto it = std::upper_bound(spans.begin(), spans.end(), begin, [](uint64_t v, const Span& s) { return v < s.end; });
  return it != spans.end() && it->begin < end;
}

// Step 2: the fewest windows of at most kMsrFilterMaxRangeMsrs MSRs that
// cover `exceptions`, each shrunk to the exceptions it holds.
Spans Windows(const Spans& exceptions) {
  Spans out;
  uint64_t covered = 0;
  size_t i = 0;
  while (i < exceptions.size()) {
    const uint64_t start = std::max(covered, exceptions[i].begin);
    const uint64_t limit = start + kMsrFilterMaxRangeMsrs;
    uint64_t last = start;
    while (i < exceptions.size() && exceptions[i].begin < limit) {
      if (exceptions[i].end > limit) {  // cut: the rest opens the next window
        last = limit;
        break;
      }
      last = exceptions[i].end;
      ++i;
    }
    out.push_back({start, last});
    covered = last;
  }
  return out;
}

struct PlannedRange {
  uint32_t flags;
  uint64_t begin;
  uint64_t end;
};

struct Plan {
  bool default_deny = false;
  std::vector<PlannedRange> ranges;
  size_t bitmap_bytes = 0;
  // Exceptions for reads only: in a READ|WRITE range they take the write bit.
  Spans read_only_exceptions;
};

size_t BitmapBytes(const std::vector<PlannedRange>& ranges) {
  size_t bytes = 0;
  for (const PlannedRange& r : ranges) bytes += MsrFilterBitmapBytes(static_cast<uint32_t>(r.end - r.begin));
  return bytes;
}

// Step 3a.
std::vector<PlannedRange> PlanPerDirection(const Spans& read_exc, const Spans& write_exc, const Spans& disagree) {
  const Spans read_windows = Windows(read_exc);
  const Spans write_windows = Windows(write_exc);
  std::vector<bool> write_merged(write_windows.size(), false);
  std::vector<PlannedRange> ranges;
  size_t j = 0;
  for (const Span& w : read_windows) {
    while (j < write_windows.size() && write_windows[j].begin < w.begin) ++j;
    if (j < write_windows.size() && write_windows[j].begin == w.begin && write_windows[j].end == w.end &&
        !Overlaps(disagree, w.begin, w.end)) {
      write_merged[j] = true;
      ranges.push_back({kMsrFilterReadWrite, w.begin, w.end});
    } else {
      ranges.push_back({kMsrFilterRead, w.begin, w.end});
    }
  }
  for (size_t k = 0; k < write_windows.size(); ++k) {
    if (!write_merged[k]) ranges.push_back({kMsrFilterWrite, write_windows[k].begin, write_windows[k].end});
  }
  std::sort(ranges.begin(), ranges.end(), [](const PlannedRange& a, const PlannedRange& b) {
    return std::tie(a.begin, a.flags) < std::tie(b.begin, b.flags);
  });
  return ranges;
}

// Step 3b.
std::vector<PlannedRange> PlanLayered(const Spans& read_only, const Spans& write_only, const Spans& both) {
  std::vector<PlannedRange> ranges;
  for (const Span& w : Windows(read_only)) ranges.push_back({kMsrFilterRead, w.begin, w.end});
  for (const Span& w : Windows(write_only)) ranges.push_back({kMsrFilterWrite, w.begin, w.end});
  for (const Span& w : Windows(both)) ranges.push_back({kMsrFilterReadWrite, w.begin, w.end});
  return ranges;
}

void FillBits(const std::vector<MsrSegment>& segments, uint64_t base, uint64_t lo, uint64_t hi,
              std::vector<uint8_t>& bitmap) {
  for (size_t k = FindMsrSegment(segments, lo); k < segments.size() && segments[k].begin < hi; ++k) {
    const uint64_t from = std::max(lo, segments[k].begin);
    const uint64_t to = std::min(hi, segments[k].end);
    const bool allow = WantsAllow(segments[k]);
    for (uint64_t m = from; m < to; ++m) {
      const uint64_t bit = m - base;
      if (allow) {
        bitmap[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
      } else {
        bitmap[bit / 8] &= static_cast<uint8_t>(~(1u << (bit % 8)));
      }
    }
  }
}

MsrFilter Materialize(const Plan& plan, const std::vector<MsrSegment>& read, const std::vector<MsrSegment>& write) {
  MsrFilter filter;
  filter.default_deny = plan.default_deny;
  for (const PlannedRange& p : plan.ranges) {
    MsrFilterRange range;
    range.flags = p.flags;
    range.base = static_cast<uint32_t>(p.begin);
    range.nmsrs = static_cast<uint32_t>(p.end - p.begin);
    range.bitmap.assign(MsrFilterBitmapBytes(range.nmsrs), 0);
    FillBits(p.flags == kMsrFilterWrite ? write : read, p.begin, p.begin, p.end, range.bitmap);
    if (p.flags == kMsrFilterReadWrite) {
      // MSRs wanting different bits per direction: reads are decided by an
      // earlier READ range (read-only exceptions) or writes by an earlier
      // WRITE range (write-only exceptions); the bit serves the other one.
      for (const Span& s : Intersect(plan.read_only_exceptions, Spans{{p.begin, p.end}})) {
        FillBits(write, p.begin, s.begin, s.end, range.bitmap);
      }
    }
    filter.ranges.push_back(std::move(range));
  }
  return filter;
}

// The rules (or the default) deciding the exceptions inside a planned range.
void CollectOwners(const PlannedRange& range, bool default_deny, const std::vector<MsrSegment>& read,
                   const std::vector<MsrSegment>& write, std::set<int>& owners) {
  for (bool dir_write : {false, true}) {
    if ((range.flags & (dir_write ? kMsrFilterWrite : kMsrFilterRead)) == 0) continue;
    const std::vector<MsrSegment>& segments = dir_write ? write : read;
    for (size_t k = FindMsrSegment(segments, range.begin); k < segments.size() && segments[k].begin < range.end; ++k) {
      if (WantsAllow(segments[k]) == default_deny && segments[k].rule != kX2apicOwner) owners.insert(segments[k].rule);
    }
  }
}

std::vector<int> OwnersOf(const std::vector<MsrSegment>& segments, uint64_t index) {
  return {segments[FindMsrSegment(segments, index)].rule};
}

}  // namespace

absl::StatusOr<MsrFilter> PackMsrFilter(const std::vector<MsrSegment>& read, const std::vector<MsrSegment>& write,
                                        bool policy_default_deny) {
  std::optional<Plan> best;
  std::optional<Plan> best_overflowing;
  std::vector<int> last_msr_rules;
  for (bool default_deny : {policy_default_deny, !policy_default_deny}) {
    const Spans read_exc = Exceptions(read, !default_deny);
    const Spans write_exc = Exceptions(write, !default_deny);
    const bool read_last = !read_exc.empty() && read_exc.back().end > kLastMsr;
    const bool write_last = !write_exc.empty() && write_exc.back().end > kLastMsr;
    if (read_last || write_last) {  // step 5: no range can hold 0xffffffff
      if (last_msr_rules.empty()) last_msr_rules = OwnersOf(read_last ? read : write, kLastMsr);
      continue;
    }
    const Spans read_only = Subtract(read_exc, write_exc);
    const Spans write_only = Subtract(write_exc, read_exc);
    const Spans both = Intersect(read_exc, write_exc);
    Spans disagree = read_only;
    for (const Span& s : write_only) disagree.push_back(s);
    std::sort(disagree.begin(), disagree.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });

    for (int layered = 0; layered < 2; ++layered) {
      Plan plan;
      plan.default_deny = default_deny;
      plan.read_only_exceptions = read_only;
      plan.ranges =
          layered ? PlanLayered(read_only, write_only, both) : PlanPerDirection(read_exc, write_exc, disagree);
      if (plan.ranges.empty() && default_deny) {
        // KVM refuses DEFAULT_DENY without a non-empty range. Nothing is an
        // exception, so MSR 0 is denied for both directions: a one-MSR range
        // there changes nothing.
        plan.ranges.push_back({kMsrFilterReadWrite, 0, 1});
      }
      plan.bitmap_bytes = BitmapBytes(plan.ranges);
      auto key = [&](const Plan& p) {
        return std::make_tuple(p.ranges.size(), p.bitmap_bytes, p.default_deny != policy_default_deny);
      };
      std::optional<Plan>& slot = plan.ranges.size() <= kMsrFilterMaxRanges ? best : best_overflowing;
      if (!slot.has_value() || key(plan) < key(*slot)) slot = std::move(plan);
    }
  }

  if (best.has_value()) {
    MsrFilter filter = Materialize(*best, read, write);
    if (absl::Status s = VerifyMsrFilter(filter, read, write); !s.ok()) return s;
    return filter;
  }
  if (!best_overflowing.has_value()) {
    return rpc::InvalidField(RuleListText(last_msr_rules),
                             "MSR 0xffffffff would need a KVM filter range, and none can hold it (KVM computes a "
                             "range's end in 32 bits); give MSR 0xffffffff the same action as the MSRs around it");
  }
  std::vector<PlannedRange> ranges = best_overflowing->ranges;
  std::sort(ranges.begin(), ranges.end(), [](const PlannedRange& a, const PlannedRange& b) {
    return std::tie(a.begin, a.flags) < std::tie(b.begin, b.flags);
  });
  std::set<int> owners;
  for (size_t i = kMsrFilterMaxRanges; i < ranges.size(); ++i) {
    CollectOwners(ranges[i], best_overflowing->default_deny, read, write, owners);
  }
  return rpc::InvalidField(
      "rules", absl::StrCat("the policy needs ", ranges.size(), " KVM MSR filter ranges of at most ",
                   kMsrFilterMaxRangeMsrs, " MSRs each, KVM allows ", kMsrFilterMaxRanges, "; ",
                   RuleListText(std::vector<int>(owners.begin(), owners.end())),
                   " did not fit (they decide MSRs in ranges ", kMsrFilterMaxRanges + 1, "-", ranges.size(),
                   ", counted by MSR, from ", MsrHex(ranges[kMsrFilterMaxRanges].begin), ")"));
}

absl::Status VerifyMsrFilter(const MsrFilter& filter, const std::vector<MsrSegment>& read,
                             const std::vector<MsrSegment>& write) {
  std::vector<uint64_t> points = {kX2apicFirst, uint64_t{kX2apicLast} + 1, kLastMsr};
  for (const MsrSegment& s : read) points.push_back(s.begin);
  for (const MsrSegment& s : write) points.push_back(s.begin);
  for (const MsrFilterRange& r : filter.ranges) {
    points.push_back(r.base);
    points.push_back(uint64_t{r.base} + r.nmsrs);
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());
  for (uint64_t p : points) {
    if (p > kLastMsr) break;
    for (bool dir_write : {false, true}) {
      const std::vector<MsrSegment>& segments = dir_write ? write : read;
      const bool want = WantsAllow(segments[FindMsrSegment(segments, p)]);
      if (KvmAllows(filter, static_cast<uint32_t>(p), dir_write) != want) {
        return absl::InternalError(absl::StrCat("msr filter packing: MSR ", MsrHex(p), dir_write ? " write" : " read",
                                                " should be ", want ? "allowed" : "denied", " but the filter ",
                                                want ? "denies" : "allows", " it"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace vmd::msr

#include "client/pmu_output.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "backend/rpc/proto_json.h"
#include "client/output.h"

namespace vmd::client {
namespace {

std::string LayerText(v1::PmuLayer layer) {
  switch (layer) {
    case v1::PMU_LAYER_KVM: return "kvm";
    case v1::PMU_LAYER_ENGINE: return "engine";
    case v1::PMU_LAYER_NONE: return "-";
    default: return "";
  }
}

std::string FixedText(const v1::GuestPmu& g) {
  std::vector<std::string> ids;
  for (uint32_t i = 0; i < 4; ++i) {
    if ((g.fixed_counter_bitmap() >> i & 1) || g.fixed_counters() > i) ids.push_back(absl::StrCat(i));
  }
  return ids.empty() ? "none" : absl::StrJoin(ids, ",");
}

}  // namespace

absl::StatusOr<v1::PmuSpec> ParsePmuSpec(const std::string& text) {
  v1::PmuSpec spec;
  if (text == "off") {
    spec.set_mode(v1::PMU_MODE_OFF);
  } else if (text == "host") {
    spec.set_mode(v1::PMU_MODE_HOST);
  } else if (absl::Status s = rpc::FromJson(text, &spec); !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--pmu: off, host, or a vmd.v1.PmuSpec as JSON: ", s.message()));
  }
  return spec;
}

std::string SummarizePmuGrant(const v1::PmuGrant& grant) {
  const v1::GuestPmu& g = grant.guest();
  std::string out = g.version() == 0 ? "none"
                                     : absl::StrCat(LayerText(g.layer()), " v", g.version(), ", ", g.gp_counters(),
                                                    " GP, fixed ", FixedText(g));
  if (g.lbr() == v1::LBR_MODE_LEGACY || g.lbr() == v1::LBR_MODE_ARCH) {
    absl::StrAppend(&out, ", ", g.lbr() == v1::LBR_MODE_ARCH ? "arch" : "legacy", " LBR ", g.lbr_depth());
  }
  if (g.pebs() == v1::PEBS_MODE_BASIC || g.pebs() == v1::PEBS_MODE_ADAPTIVE) {
    absl::StrAppend(&out, ", PEBS ", g.pebs() == v1::PEBS_MODE_ADAPTIVE ? "adaptive" : "basic");
  }
  absl::StrAppend(&out, grant.satisfied() ? "; as asked" : "; not as asked (see its items)");
  return out;
}

std::string RenderPmuGrant(const v1::PmuGrant& grant) {
  const v1::GuestPmu& g = grant.guest();
  std::vector<std::vector<std::string>> rows;
  for (const v1::PmuGrantItem& i : grant.items()) {
    rows.push_back({i.item(), i.requested(), i.granted(), i.satisfied() ? "yes" : "NO", LayerText(i.layer()),
                    i.reason()});
  }
  std::string out = RenderKeyValues({
      {"host", grant.host()},
      {"guest vendor", grant.vendor()},
      {"satisfied", grant.satisfied() ? "yes" : "no"},
      {"pmu", SummarizePmuGrant(grant)},
  });
  absl::StrAppend(&out, RenderTable({"ITEM", "REQUESTED", "GRANTED", "OK", "LAYER", "REASON"}, rows));
  if (g.version() != 0) {
    absl::StrAppend(&out, RenderKeyValues({
                              {"counts", g.counts()},
                              {"perf capabilities", absl::StrFormat("0x%x", g.perf_capabilities())},
                              {"unavailable events", absl::StrFormat("0x%x", g.unavailable_events())},
                          }));
    for (const v1::CpuidValue& v : g.cpuid()) {
      absl::StrAppendFormat(&out, "cpuid 0x%x.%u: eax=0x%08x ebx=0x%08x ecx=0x%08x edx=0x%08x\n", v.function(),
                            v.index(), v.eax(), v.ebx(), v.ecx(), v.edx());
    }
  }
  return out;
}

std::string RenderHostPmu(const v1::HostPmu& pmu) {
  std::vector<std::pair<std::string, std::string>> lines;
  if (pmu.present()) {
    lines.push_back({"pmu", absl::StrCat(pmu.vendor(), " v", pmu.version(), ", ", pmu.gp_counters(), " GP x ",
                                         pmu.gp_counter_width(), " bits, ", pmu.fixed_counters(), " fixed")});
    lines.push_back({"pmu lbr", pmu.arch_lbr_depth_bitmap() != 0
                                    ? absl::StrFormat("arch (depths bitmap 0x%x)", pmu.arch_lbr_depth_bitmap())
                                    : pmu.lbr_depth() != 0
                                          ? absl::StrCat("format ", pmu.lbr_format(), ", depth ", pmu.lbr_depth())
                                          : "none"});
    lines.push_back({"pmu pebs", pmu.guest_pebs() ? absl::StrCat("format ", pmu.pebs_format(),
                                                                 pmu.pebs_baseline() ? ", adaptive" : "")
                                                  : "none for guests"});
  } else {
    lines.push_back({"pmu", absl::StrCat("none: ", pmu.reason())});
  }
  lines.push_back({"pmu kvm vpmu", pmu.kvm().available()
                                       ? absl::StrCat("up to v", pmu.kvm().max_version())
                                       : absl::StrCat("none: ", pmu.kvm().reason())});
  lines.push_back({"pmu engine vpmu", absl::StrCat("up to v", pmu.engine_max_version(),
                                                   " (Intel architectural, counts cycles only)")});
  lines.push_back({"perf pmu", pmu.perf_pmu()});
  return RenderKeyValues(lines);
}

}  // namespace vmd::client

// PMU negotiation as a table of hosts × requests: which layer, which items,
// and why (backend/pmu/pmu_negotiation.h).
#include "backend/pmu/pmu_negotiation.h"

#include <gtest/gtest.h>

#include <string>

#include "backend/cpu/host_profiles.h"
#include "backend/pmu/host_pmu.h"
#include "backend/pmu/perf_capabilities.h"
#include "backend/pmu/pmu_spec_validation.h"

namespace vmd::pmu {
namespace {

v1::HostPmu Profile(const char* name) {
  const cpu::HostProfile* p = cpu::FindHostProfile(name);
  EXPECT_NE(p, nullptr) << name;
  return HostPmuOfProfile(*p);
}

PmuTarget Sim(const char* name) {
  return {.host = std::string("sim:") + name, .guest_vendor = cpu::FindHostProfile(name)->vendor};
}

// This machine: an AMD EPYC guest without a PMU, kvm.enable_pmu=N.
v1::HostPmu ThisHost() {
  static const cpu::KvmHostReport report;
  HostPmuFacts f;
  f.native_cpuid = {cpu::Leaf(0, 0x10, 0x68747541, 0x444d4163, 0x69746e65), cpu::Leaf(1, 0x00a00f11, 0, 0, 0),
                    cpu::Leaf(0x80000000, 0x80000022, 0x68747541, 0x444d4163, 0x69746e65)};
  f.kvm = &report;
  f.enable_pmu = false;
  return DescribeHostPmu(f);
}

v1::PmuSpec Custom(uint32_t version, uint32_t gp, uint32_t fixed, uint32_t bitmap = 0) {
  v1::PmuSpec s;
  s.set_mode(v1::PMU_MODE_CUSTOM);
  s.mutable_custom()->set_version(version);
  s.mutable_custom()->set_gp_counters(gp);
  s.mutable_custom()->set_fixed_counters(fixed);
  s.mutable_custom()->set_fixed_counter_bitmap(bitmap);
  return s;
}

const v1::PmuGrantItem& ItemOf(const v1::PmuGrant& g, const std::string& name) {
  for (const v1::PmuGrantItem& i : g.items()) {
    if (i.item() == name) return i;
  }
  static const v1::PmuGrantItem none;
  ADD_FAILURE() << "no item " << name << " in " << g.DebugString();
  return none;
}

const v1::CpuidValue& LeafOf(const v1::PmuGrant& g, uint32_t function) {
  for (const v1::CpuidValue& v : g.guest().cpuid()) {
    if (v.function() == function) return v;
  }
  static const v1::CpuidValue none;
  return none;
}

v1::PmuGrant Negotiate(const v1::PmuSpec& spec, const v1::HostPmu& host, const PmuTarget& target) {
  EXPECT_TRUE(ValidatePmuSpec(spec, "spec.pmu").ok()) << spec.DebugString();
  return NegotiatePmu(spec, host, target);
}

TEST(PmuNegotiationTest, OffIsAlwaysGrantedAndDescribesNoPmu) {
  v1::PmuGrant g = Negotiate(v1::PmuSpec(), Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_TRUE(g.satisfied());
  EXPECT_EQ(g.guest().version(), 0u);
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_NONE);
  EXPECT_EQ(g.host(), "sim:intel-icelake-server");
}

TEST(PmuNegotiationTest, ThisHostSaysWhyItHasNoPmu) {
  const v1::HostPmu host = ThisHost();
  EXPECT_FALSE(host.present());
  EXPECT_NE(host.reason().find("0x80000022"), std::string::npos) << host.reason();
  EXPECT_NE(host.reason().find("/sys/bus/event_source/devices/cpu"), std::string::npos) << host.reason();
  EXPECT_FALSE(host.kvm().available());
  EXPECT_EQ(host.kvm().reason(), "kvm.enable_pmu=N: KVM gives guests no vPMU");
  EXPECT_EQ(host.vendor(), "amd");
  EXPECT_EQ(host.cpu_family(), 0x19u);
}

TEST(PmuNegotiationTest, AnAmdGuestHereGetsNoPmuAndEveryReason) {
  v1::PmuSpec spec = Custom(2, 4, 0);
  v1::PmuGrant g = Negotiate(spec, ThisHost(), {.host = "kvm", .guest_vendor = cpu::CpuVendor::kAmd});
  EXPECT_FALSE(g.satisfied());
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_NONE);
  EXPECT_EQ(g.guest().version(), 0u);
  const std::string why = ItemOf(g, "pmu").reason();
  EXPECT_NE(why.find("enable_pmu=N"), std::string::npos) << why;
  EXPECT_NE(why.find("Intel architectural PMU only"), std::string::npos) << why;
  absl::Status refused = RefuseUnlessGranted(spec, g, "a");
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("version: asked 2, can have 0"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("gp_counters: asked 4, can have 0"), std::string::npos) << refused.message();
  spec.set_policy(v1::PMU_POLICY_BEST_EFFORT);
  EXPECT_TRUE(RefuseUnlessGranted(spec, g, "a").ok());
}

TEST(PmuNegotiationTest, AnIntelGuestHereGetsTheEnginesV5WithTheCycleCountersOnly) {
  // Version 5 may skip fixed counter 0 (instructions), which the engine
  // cannot count: bitmap 0b110 is exactly what it can give.
  v1::PmuSpec spec = Custom(5, 4, 0, 0b0110);
  spec.mutable_custom()->add_events(v1::PMU_ARCH_EVENT_CORE_CYCLES);
  spec.mutable_custom()->add_events(v1::PMU_ARCH_EVENT_REF_CYCLES);
  v1::PmuGrant g = Negotiate(spec, ThisHost(), {.host = "kvm", .guest_vendor = cpu::CpuVendor::kIntel,
                                                .model_is_host = false});
  EXPECT_TRUE(g.satisfied()) << g.DebugString();
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_ENGINE);
  EXPECT_EQ(g.guest().fixed_counters(), 0u);
  EXPECT_EQ(g.guest().fixed_counter_bitmap(), 0b0110u);
  // Every event but core and reference cycles is unavailable (EBX bit set).
  EXPECT_EQ(g.guest().unavailable_events(), 0xffu & ~0b101u);
  EXPECT_EQ(g.guest().perf_capabilities(), kPerfCapFwWrites);
  const v1::CpuidValue& a = LeafOf(g, 0xa);
  EXPECT_EQ(a.eax() & 0xff, 5u);
  EXPECT_EQ((a.eax() >> 8) & 0xff, 4u);
  EXPECT_EQ(a.ecx(), 0b0110u);
  EXPECT_EQ(a.edx() & 0x1f, 0u);
  EXPECT_TRUE(LeafOf(g, 1).ecx() & (1u << 15)) << "PDCM";
  EXPECT_NE(g.guest().counts().find("run time"), std::string::npos);
}

TEST(PmuNegotiationTest, TheEngineRefusesWhatItCannotCountAndSaysSo) {
  v1::PmuSpec spec = Custom(4, 2, 3);
  spec.mutable_custom()->add_events(v1::PMU_ARCH_EVENT_INSTRUCTIONS);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  v1::PmuGrant g = Negotiate(spec, ThisHost(), {.host = "kvm", .guest_vendor = cpu::CpuVendor::kIntel});
  EXPECT_FALSE(g.satisfied());
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_ENGINE);
  EXPECT_TRUE(ItemOf(g, "version").satisfied());
  EXPECT_TRUE(ItemOf(g, "gp_counters").satisfied());
  // Below version 5 the fixed counters are 0..n-1: without counter 0, none.
  const v1::PmuGrantItem& fixed = ItemOf(g, "fixed_counters");
  EXPECT_EQ(fixed.requested(), "0,1,2");
  EXPECT_EQ(fixed.granted(), "none");
  EXPECT_NE(fixed.reason().find("instructions retired"), std::string::npos) << fixed.reason();
  EXPECT_NE(fixed.reason().find("below version 5"), std::string::npos) << fixed.reason();
  const v1::PmuGrantItem& events = ItemOf(g, "events");
  EXPECT_FALSE(events.satisfied());
  EXPECT_EQ(events.granted(), "none");
  EXPECT_NE(events.reason().find("instructions"), std::string::npos);
  EXPECT_NE(ItemOf(g, "lbr").reason().find("cannot record branches"), std::string::npos);
  EXPECT_EQ(g.guest().lbr(), v1::LBR_MODE_OFF);
}

TEST(PmuNegotiationTest, KvmGivesLegacyLbrWithTheHostsFormat) {
  v1::PmuSpec spec = Custom(2, 8, 3);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  v1::PmuGrant g = Negotiate(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_TRUE(g.satisfied()) << g.DebugString();
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_KVM);
  EXPECT_EQ(g.guest().lbr(), v1::LBR_MODE_LEGACY);
  EXPECT_EQ(g.guest().lbr_depth(), 32u);
  EXPECT_EQ(g.guest().perf_capabilities() & kPerfCapLbrFormat, 5u);
  EXPECT_EQ(g.guest().perf_capabilities() & kPerfCapPebsFormat, 0u) << "no PEBS asked, none given";
  EXPECT_EQ(ItemOf(g, "lbr").layer(), v1::PMU_LAYER_KVM);
}

TEST(PmuNegotiationTest, LegacyLbrNeedsTheHostsModelAndDepth) {
  v1::PmuSpec spec = Custom(2, 4, 3);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  PmuTarget other_model = Sim("intel-icelake-server");
  other_model.model_is_host = false;
  v1::PmuGrant g = Negotiate(spec, Profile("intel-icelake-server"), other_model);
  EXPECT_NE(ItemOf(g, "lbr").reason().find("model-specific"), std::string::npos);
  spec.mutable_custom()->set_lbr_depth(16);
  g = Negotiate(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_NE(ItemOf(g, "lbr").reason().find("LBR depth is 32"), std::string::npos);
}

TEST(PmuNegotiationTest, AboveKvmsVersionTheEngineTakesOverWhenItCanGiveEverything) {
  // Ice Lake's kernel is upstream: KVM stops at version 2. A v5 request the
  // engine can fully give goes to the engine.
  v1::PmuSpec spec = Custom(5, 8, 0, 0b0110);
  v1::PmuGrant g = Negotiate(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_TRUE(g.satisfied()) << g.DebugString();
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_ENGINE);
  // With LBR and fixed counter 0 neither layer gives everything; KVM gives
  // more of it (all but the version), the engine neither.
  spec = Custom(5, 8, 3);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  g = Negotiate(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_FALSE(g.satisfied());
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_KVM);
  EXPECT_EQ(g.guest().version(), 2u);
  EXPECT_NE(ItemOf(g, "version").reason().find("KVM caps the vPMU at version 2"), std::string::npos);
}

TEST(PmuNegotiationTest, ArchLbrOnAKernelWithTheSeedSeries) {
  v1::PmuSpec spec = Custom(5, 8, 4);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_ARCH);
  spec.mutable_custom()->set_lbr_depth(16);
  v1::PmuGrant g = Negotiate(spec, Profile("intel-sapphire-rapids"), Sim("intel-sapphire-rapids"));
  EXPECT_TRUE(g.satisfied()) << g.DebugString();
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_KVM);
  EXPECT_EQ(g.guest().arch_lbr_depth_bitmap(), 0b11u) << "depths 8 and 16";
  EXPECT_EQ(g.guest().perf_capabilities() & kPerfCapLbrFormat, kLbrFormatArch);
  EXPECT_TRUE(LeafOf(g, 7).edx() & (1u << 19));
  EXPECT_EQ(LeafOf(g, 0x1c).eax() & 0xff, 0b11u);
  // An upstream kernel has no guest Arch LBR.
  v1::HostPmu upstream = Profile("intel-sapphire-rapids");
  upstream.mutable_kvm()->set_arch_lbr(false);
  g = Negotiate(spec, upstream, Sim("intel-sapphire-rapids"));
  EXPECT_FALSE(ItemOf(g, "lbr").satisfied());
  EXPECT_NE(ItemOf(g, "lbr").reason().find("seed 001"), std::string::npos);
  // A depth the host does not enumerate.
  spec.mutable_custom()->set_lbr_depth(64);
  g = Negotiate(spec, Profile("intel-sapphire-rapids"), Sim("intel-sapphire-rapids"));
  EXPECT_NE(ItemOf(g, "lbr").reason().find("bitmap 0xf"), std::string::npos) << ItemOf(g, "lbr").reason();
}

TEST(PmuNegotiationTest, PebsFollowsTheHost) {
  v1::PmuSpec spec = Custom(2, 4, 3);
  spec.mutable_custom()->set_pebs(v1::PEBS_MODE_BASIC);
  // Skylake: no guest PEBS.
  v1::PmuGrant g = Negotiate(spec, Profile("intel-skylake-server"), Sim("intel-skylake-server"));
  EXPECT_NE(ItemOf(g, "pebs").reason().find("Ice Lake server"), std::string::npos);
  // Ice Lake: the host's PEBS whole, baseline included: basic is covered.
  g = Negotiate(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  EXPECT_TRUE(g.satisfied()) << g.DebugString();
  EXPECT_EQ(g.guest().pebs(), v1::PEBS_MODE_ADAPTIVE);
  EXPECT_TRUE(g.guest().ds());
  EXPECT_TRUE(g.guest().dtes64());
  const uint64_t host_caps = Profile("intel-icelake-server").perf_capabilities();
  EXPECT_EQ(g.guest().perf_capabilities() & kPerfCapPebsMask, host_caps & kPerfCapPebsMask);
  EXPECT_TRUE(LeafOf(g, 1).edx() & (1u << 21)) << "DS";
  EXPECT_TRUE(LeafOf(g, 1).ecx() & (1u << 2)) << "DTES64";
  // While the host's perf uses PEBS, guests get none.
  v1::HostPmu busy = Profile("intel-icelake-server");
  busy.set_host_uses_pebs(true);
  g = Negotiate(spec, busy, Sim("intel-icelake-server"));
  EXPECT_EQ(g.guest().pebs(), v1::PEBS_MODE_OFF);
  EXPECT_NE(ItemOf(g, "pebs").reason().find("perf uses PEBS"), std::string::npos);
}

TEST(PmuNegotiationTest, HostModeOnAHostWithoutAPmuIsRefusedWithItsReason) {
  v1::PmuSpec spec;
  spec.set_mode(v1::PMU_MODE_HOST);
  v1::PmuGrant g = Negotiate(spec, Profile("intel-no-pmu"), Sim("intel-no-pmu"));
  EXPECT_FALSE(g.satisfied());
  EXPECT_EQ(ItemOf(g, "pmu").reason(), "profile intel-no-pmu has no PMU");
  // Skylake-SP through upstream KVM: version 2 of the host's 4, the rest
  // the host's.
  g = Negotiate(spec, Profile("intel-skylake-server"), Sim("intel-skylake-server"));
  EXPECT_EQ(g.guest().layer(), v1::PMU_LAYER_KVM);
  EXPECT_EQ(g.guest().version(), 2u);
  EXPECT_EQ(g.guest().gp_counters(), 4u);
  EXPECT_EQ(g.guest().fixed_counters(), 3u);
  EXPECT_EQ(g.guest().lbr(), v1::LBR_MODE_LEGACY);
}

TEST(PmuNegotiationTest, TheEventFilterIsGrantedOnlyWhereKvmAppliesIt) {
  v1::PmuSpec spec = Custom(2, 2, 0);
  spec.mutable_event_filter()->set_action(v1::PMU_FILTER_ACTION_DENY);
  v1::PmuEvent* e = spec.mutable_event_filter()->add_events();
  e->set_event_select(0x3c);
  v1::PmuGrant g = Negotiate(spec, Profile("intel-skylake-server"), Sim("intel-skylake-server"));
  EXPECT_TRUE(ItemOf(g, "event_filter").satisfied());
  EXPECT_EQ(g.guest().event_filter().events_size(), 1);
  v1::HostPmu no_filter = Profile("intel-skylake-server");
  no_filter.mutable_kvm()->set_event_filter(false);
  g = NegotiatePmu(spec, no_filter, Sim("intel-skylake-server"));
  EXPECT_FALSE(ItemOf(g, "event_filter").satisfied());
  EXPECT_NE(ItemOf(g, "event_filter").reason().find("KVM_CAP_PMU_EVENT_FILTER"), std::string::npos);
  EXPECT_FALSE(g.guest().has_event_filter());
  // Nor does the engine's vPMU: on this host no layer filters.
  g = NegotiatePmu(spec, ThisHost(), {.host = "kvm", .guest_vendor = cpu::CpuVendor::kIntel});
  EXPECT_NE(ItemOf(g, "event_filter").reason().find("applies no event filter"), std::string::npos);
}

// pmu_counters_test's shapes: versions 1-5 × fixed count × bitmap. The
// leaf 0xA a grant describes follows "counter i exists iff ECX[i] ||
// EDX[4:0] > i" with ECX only from version 5.
TEST(PmuNegotiationTest, LeafAEncodesEveryFixedCounterShape) {
  for (uint32_t version = 2; version <= 5; ++version) {
    for (uint32_t fixed = 0; fixed <= 4; ++fixed) {
      for (uint32_t bitmap = 0; bitmap <= (version == 5 ? 0xfu : 0u); ++bitmap) {
        SCOPED_TRACE(testing::Message() << "v" << version << " fixed " << fixed << " bitmap " << bitmap);
        v1::HostPmu host = Profile("intel-sapphire-rapids");
        v1::PmuGrant g = NegotiatePmu(Custom(version, 2, fixed, bitmap), host, Sim("intel-sapphire-rapids"));
        const v1::CpuidValue& a = LeafOf(g, 0xa);
        const uint32_t wanted = ((1u << fixed) - 1) | bitmap;
        for (uint32_t i = 0; i < 4; ++i) {
          const bool exists = (version >= 5 && (a.ecx() >> i) & 1) || (a.edx() & 0x1f) > i;
          EXPECT_EQ(exists, ((wanted >> i) & 1) != 0) << "counter " << i;
        }
        if (version < 5) {
          EXPECT_EQ(a.ecx(), 0u);
        }
        EXPECT_TRUE(g.satisfied()) << g.DebugString();
      }
    }
  }
}

// Every grant's PERF_CAPABILITIES is one KVM's host write would take.
TEST(PmuNegotiationTest, EveryGrantedPerfCapabilitiesPassesKvmsRules) {
  for (const cpu::HostProfile& p : cpu::HostProfiles()) {
    if (p.vendor != cpu::CpuVendor::kIntel) continue;  // an Intel MSR
    for (v1::LbrMode lbr : {v1::LBR_MODE_OFF, v1::LBR_MODE_LEGACY, v1::LBR_MODE_ARCH}) {
      for (v1::PebsMode pebs : {v1::PEBS_MODE_OFF, v1::PEBS_MODE_BASIC, v1::PEBS_MODE_ADAPTIVE}) {
        v1::PmuSpec spec = Custom(2, 2, 0);
        spec.mutable_custom()->set_lbr(lbr);
        spec.mutable_custom()->set_pebs(pebs);
        v1::PmuGrant g = NegotiatePmu(spec, HostPmuOfProfile(p), {.host = "sim", .guest_vendor = p.vendor});
        if (g.guest().version() == 0) continue;
        EXPECT_TRUE(ItemOf(g, "perf_capabilities").satisfied()) << p.name << ": " << g.DebugString();
      }
    }
  }
}

TEST(PmuNegotiationTest, AGrantRunsOnlyWhereItsLayerAndModelAre) {
  v1::PmuSpec spec = Custom(2, 4, 3);
  spec.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  const v1::PmuGrant lbr = NegotiatePmu(spec, Profile("intel-icelake-server"), Sim("intel-icelake-server"));
  ASSERT_TRUE(lbr.satisfied());
  EXPECT_TRUE(GrantRunsOn(lbr, Profile("intel-icelake-server"), Sim("intel-icelake-server")).ok());
  absl::Status moved = GrantRunsOn(lbr, Profile("intel-skylake-server"), Sim("intel-skylake-server"));
  EXPECT_EQ(moved.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(moved.message().find("same LBR format and CPU model"), std::string::npos) << moved.message();
  EXPECT_FALSE(GrantRunsOn(lbr, Profile("intel-no-pmu"), Sim("intel-no-pmu")).ok());
  // The engine's vPMU runs wherever the engine does, for an Intel guest.
  const v1::PmuGrant engine = NegotiatePmu(Custom(5, 8, 0, 0b110), ThisHost(),
                                           {.host = "kvm", .guest_vendor = cpu::CpuVendor::kIntel});
  ASSERT_EQ(engine.guest().layer(), v1::PMU_LAYER_ENGINE);
  EXPECT_TRUE(GrantRunsOn(engine, Profile("intel-no-pmu"), Sim("intel-no-pmu")).ok());
  EXPECT_FALSE(GrantRunsOn(engine, Profile("amd-zen4"), Sim("amd-zen4")).ok());
}

struct BadSpec {
  const char* what;
  v1::PmuSpec spec;
  const char* field;
};

TEST(PmuSpecValidationTest, EachRuleNamesItsField) {
  auto custom = [](auto edit) {
    v1::PmuSpec s = Custom(2, 2, 0);
    edit(*s.mutable_custom());
    return s;
  };
  v1::PmuSpec custom_without_mode;
  custom_without_mode.mutable_custom()->set_version(2);
  v1::PmuSpec filter_without_action = Custom(2, 2, 0);
  filter_without_action.mutable_event_filter()->add_events()->set_event_select(0x3c);
  v1::PmuSpec filter_when_off;
  filter_when_off.mutable_event_filter()->set_action(v1::PMU_FILTER_ACTION_DENY);
  v1::PmuSpec wide_select = Custom(2, 2, 0);
  wide_select.mutable_event_filter()->set_action(v1::PMU_FILTER_ACTION_ALLOW);
  wide_select.mutable_event_filter()->add_events()->set_event_select(0x1000);
  const BadSpec cases[] = {
      {"version 0", Custom(0, 0, 0), "spec.pmu.custom.version"},
      {"version 6", Custom(6, 0, 0), "spec.pmu.custom.version"},
      {"9 counters", Custom(2, 9, 0), "spec.pmu.custom.gp_counters"},
      {"5 fixed", Custom(2, 0, 5), "spec.pmu.custom.fixed_counters"},
      {"fixed in v1", Custom(1, 2, 1), "spec.pmu.custom.fixed_counters"},
      {"bitmap below v5", Custom(4, 2, 0, 1), "spec.pmu.custom.fixed_counter_bitmap"},
      {"bitmap bit 4", Custom(5, 2, 0, 0x10), "spec.pmu.custom.fixed_counter_bitmap"},
      {"depth without lbr", custom([](v1::PmuCustom& c) { c.set_lbr_depth(8); }), "spec.pmu.custom.lbr_depth"},
      {"arch depth 12", custom([](v1::PmuCustom& c) { c.set_lbr(v1::LBR_MODE_ARCH); c.set_lbr_depth(12); }),
       "spec.pmu.custom.lbr_depth"},
      {"pebs without counters", custom([](v1::PmuCustom& c) { c.set_gp_counters(0); c.set_pebs(v1::PEBS_MODE_BASIC); }),
       "spec.pmu.custom.pebs"},
      {"event twice", custom([](v1::PmuCustom& c) { c.add_events(v1::PMU_ARCH_EVENT_BRANCHES); c.add_events(v1::PMU_ARCH_EVENT_BRANCHES); }),
       "spec.pmu.custom.events[1]"},
      {"custom without mode", custom_without_mode, "spec.pmu.custom"},
      {"filter without action", filter_without_action, "spec.pmu.event_filter.action"},
      {"filter when off", filter_when_off, "spec.pmu.event_filter"},
      {"13-bit select", wide_select, "spec.pmu.event_filter.events[0].event_select"},
  };
  for (const BadSpec& c : cases) {
    absl::Status s = ValidatePmuSpec(c.spec, "spec.pmu");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.what;
    EXPECT_EQ(s.message().substr(0, s.message().find(':')), c.field) << c.what << ": " << s.message();
  }
  EXPECT_TRUE(ValidatePmuSpec(Custom(5, 8, 4, 0xf), "spec.pmu").ok());
}

}  // namespace
}  // namespace vmd::pmu

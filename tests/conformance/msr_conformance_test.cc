// MSR policy conformance (issue: MSR allow-list policy; seed 001): the four
// cases of the kernel selftest userspace_msr_exit_test as probe programs, and
// MSR_CORE_THREAD_COUNT emulated from the VM's topology. Each runs on sim and,
// where usable, on kvm, and both must give the same results and counts.
#include <atomic>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "backend/msr/msr_filter.h"
#include "tests/conformance/backend_vm.h"
#include "tests/conformance/probe_ops.h"

namespace vmd::conformance {
namespace {

constexpr uint32_t kPat = 0x277, kCoreThreadCount = 0x35, kXss = 0xda0, kFabricated = 0xdeadbeef;
constexpr uint64_t kPatReset = 0x0007040600070406ull;

v1::MsrRule Rule(uint32_t first, uint32_t count, v1::MsrAccess access, v1::MsrAction action) {
  v1::MsrRule r;
  r.set_first(first);
  r.set_count(count);
  r.set_access(access);
  r.set_action(action);
  return r;
}

v1::MsrHandler Handler(uint32_t index, v1::MsrHandler::ReadSource read, uint64_t constant,
                       v1::MsrHandler::WriteAction write) {
  v1::MsrHandler h;
  h.set_index(index);
  h.set_read(read);
  h.set_constant(constant);
  h.set_write(write);
  return h;
}

// The outcome and value of each op, for comparing backends.
std::vector<std::string> Summary(const v1::RunProbeResponse& r) {
  std::vector<std::string> out;
  for (const v1::ProbeResult& res : r.results()) {
    std::string s = absl::StrCat(v1::ProbeOutcome_Name(res.outcome()), "/", res.vector());
    for (uint64_t v : res.values()) absl::StrAppend(&s, " ", v);
    out.push_back(s);
  }
  return out;
}

uint64_t Count(const v1::MsrStats& stats, v1::MsrOutcome outcome, v1::MsrAccess access) {
  uint64_t n = 0;
  for (const v1::MsrCounter& c : stats.counters()) {
    if (c.outcome() == outcome && c.access() == access) n += c.count();
  }
  return n;
}

// Runs `body` on each usable backend and returns the summaries per backend.
class MsrConformanceTest : public ::testing::Test {
 protected:
  std::vector<std::string> Backends() {
    std::vector<std::string> kinds = {"sim"};
    std::string why;
    if (KvmUsable(&why)) {
      kinds.push_back("kvm");
      std::cout << "[kvm] ran on real KVM" << std::endl;
    } else {
      std::cout << "[msr-conformance] kvm skipped: " << why << std::endl;
    }
    return kinds;
  }
};

// filter_allow: accesses to a KVM-known MSR (XSS), an MSR KVM does not
// emulate (MSR_CORE_THREAD_COUNT) and a fabricated one are all trapped by the
// policy and answered in user space; what is not trapped stays with KVM.
TEST_F(MsrConformanceTest, FilterAllow) {
  v1::MsrPolicy policy;
  policy.set_default_action(v1::MSR_ACTION_ALLOW);
  *policy.add_rules() = Rule(kXss, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_EMULATE);
  *policy.add_rules() = Rule(kCoreThreadCount, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_EMULATE);
  *policy.add_rules() = Rule(kFabricated, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_EMULATE);
  *policy.add_handlers() = Handler(kXss, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, 0, v1::MsrHandler::WRITE_ACTION_STORE);
  *policy.add_handlers() = Handler(kCoreThreadCount, v1::MsrHandler::READ_SOURCE_CONSTANT, 0x10001,
                                   v1::MsrHandler::WRITE_ACTION_GP);
  *policy.add_handlers() = Handler(kFabricated, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, 0x55,
                                   v1::MsrHandler::WRITE_ACTION_STORE);
  const std::vector<v1::ProbeOp> program = {Rdmsr(kXss), Wrmsr(kXss, 0), Rdmsr(kCoreThreadCount),
                                            Wrmsr(kCoreThreadCount, 1), Rdmsr(kFabricated),
                                            Wrmsr(kFabricated, 0x1234), Rdmsr(kFabricated), Rdmsr(kPat)};
  std::vector<std::vector<std::string>> results;
  for (const std::string& kind : Backends()) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    auto set = vm.runner().msr_router().SetPolicy(policy);
    ASSERT_TRUE(set.ok()) << kind << ": " << set.status();
    auto r = vm.Run(program);
    ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
    EXPECT_EQ(r->results(0).values(0), 0u) << kind;
    EXPECT_EQ(r->results(2).values(0), 0x10001u) << kind;
    EXPECT_EQ(r->results(3).outcome(), v1::PROBE_OUTCOME_FAULT) << kind;
    EXPECT_EQ(r->results(4).values(0), 0x55u) << kind;
    EXPECT_EQ(r->results(6).values(0), 0x1234u) << kind;
    EXPECT_EQ(r->results(7).values(0), kPatReset) << kind << ": PAT is not trapped, KVM answers";
    v1::MsrStats stats = vm.runner().msr_router().Stats();
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_EMULATED, v1::MSR_ACCESS_READ), 4u) << kind;
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_EMULATED, v1::MSR_ACCESS_WRITE), 3u) << kind;
    results.push_back(Summary(*r));
  }
  if (results.size() == 2) {
    EXPECT_EQ(results[0], results[1]) << "sim and kvm differ";
  }
}

// filter_deny: DEFAULT_DENY with allow ranges; every denied access exits and
// is refused with #GP, and the exits are counted exactly: 4 RDMSR, 3 WRMSR.
TEST_F(MsrConformanceTest, FilterDenyCountsExits) {
  v1::MsrPolicy policy;
  policy.set_default_action(v1::MSR_ACTION_DENY);
  // What stays allowed (six ranges, as in the selftest).
  *policy.add_rules() = Rule(0x10, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_ALLOW);          // TSC
  *policy.add_rules() = Rule(0x1b, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_ALLOW);          // APIC_BASE
  *policy.add_rules() = Rule(kPat, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_ALLOW);                // PAT, reads
  *policy.add_rules() = Rule(0xc0000080, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_ALLOW);    // EFER
  *policy.add_rules() = Rule(0xc0000100, 3, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_ALLOW);    // FS/GS bases
  *policy.add_rules() = Rule(0x4b564d00, 0x100, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_ALLOW);  // KVM PV
  const std::vector<v1::ProbeOp> program = {
      Rdmsr(kPat),          Wrmsr(kPat, kPatReset),  // write denied
      Rdmsr(kXss),          Wrmsr(kXss, 0),          // denied both ways
      Rdmsr(0x3a),          Rdmsr(kFabricated),      Wrmsr(kFabricated, 1),
      Rdmsr(0xc0000080),    Rdmsr(0x35)};  // EFER allowed; 0x35 denied
  std::vector<std::vector<std::string>> results;
  for (const std::string& kind : Backends()) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    ASSERT_TRUE(vm.runner().msr_router().SetPolicy(policy).ok()) << kind;
    auto r = vm.Run(program);
    ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
    for (int i : {1, 2, 3, 4, 5, 6, 8}) {
      EXPECT_EQ(r->results(i).outcome(), v1::PROBE_OUTCOME_FAULT) << kind << " op " << i;
      EXPECT_EQ(r->results(i).vector(), 13u) << kind << " op " << i;
    }
    EXPECT_EQ(r->results(0).outcome(), v1::PROBE_OUTCOME_OK) << kind;
    EXPECT_EQ(r->results(7).outcome(), v1::PROBE_OUTCOME_OK) << kind;
    v1::MsrStats stats = vm.runner().msr_router().Stats();
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_DENIED, v1::MSR_ACCESS_READ), 4u) << kind;
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_DENIED, v1::MSR_ACCESS_WRITE), 3u) << kind;
    results.push_back(Summary(*r));
  }
  if (results.size() == 2) {
    EXPECT_EQ(results[0], results[1]) << "sim and kvm differ";
  }
}

// permission_bitmap: the filter switched at run time, and a probe that
// hammers an MSR during many switches sees only the old or the new policy.
TEST_F(MsrConformanceTest, PermissionBitmapSwitchedAtRunTime) {
  v1::MsrPolicy emulate;
  *emulate.add_rules() = Rule(kPat, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_EMULATE);
  *emulate.add_handlers() =
      Handler(kPat, v1::MsrHandler::READ_SOURCE_CONSTANT, 0xaaaa, v1::MsrHandler::WRITE_ACTION_GP);
  v1::MsrPolicy allow;  // default: KVM handles PAT
  for (const std::string& kind : Backends()) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    ASSERT_TRUE(vm.runner().msr_router().SetPolicy(emulate).ok());
    auto before = vm.Run({Rdmsr(kPat)});
    ASSERT_TRUE(before.ok());
    EXPECT_EQ(before->results(0).values(0), 0xaaaau) << kind;
    ASSERT_TRUE(vm.runner().msr_router().SetPolicy(allow).ok());
    auto after = vm.Run({Rdmsr(kPat)});
    ASSERT_TRUE(after.ok());
    EXPECT_EQ(after->results(0).values(0), kPatReset) << kind;

    std::atomic<bool> done{false};
    std::atomic<int> switches{0};
    std::thread switcher([&] {
      for (int i = 0; !done; ++i) {
        ASSERT_TRUE(vm.runner().msr_router().SetPolicy(i % 2 ? allow : emulate).ok());
        ++switches;
      }
    });
    std::vector<v1::ProbeOp> hammer(200, Rdmsr(kPat));
    int programs = 0;
    while (switches < 100 || programs < 5) {
      auto r = vm.Run(hammer);
      ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
      for (const v1::ProbeResult& res : r->results()) {
        ASSERT_EQ(res.outcome(), v1::PROBE_OUTCOME_OK) << kind;
        ASSERT_TRUE(res.values(0) == 0xaaaa || res.values(0) == kPatReset)
            << kind << ": saw 0x" << std::hex << res.values(0);
      }
      ++programs;
    }
    done = true;
    switcher.join();
    std::cout << "[msr-conformance] " << kind << ": " << switches << " live policy switches during " << programs
              << " programs of 200 reads\n";
  }
}

// Flag and range validation: both backends refuse what the kernel refuses
// (KVM_X86_SET_MSR_FILTER's EINVAL cases), with the same status.
TEST_F(MsrConformanceTest, FilterValidation) {
  std::vector<msr::MsrFilter> invalid;
  msr::MsrFilter deny_nothing;
  deny_nothing.default_deny = true;  // DEFAULT_DENY with no ranges
  invalid.push_back(deny_nothing);
  msr::MsrFilter no_flags;
  no_flags.ranges.push_back({.flags = 0, .base = 0x10, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0)});
  invalid.push_back(no_flags);
  msr::MsrFilter bad_flags;
  bad_flags.ranges.push_back({.flags = 4, .base = 0x10, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0)});
  invalid.push_back(bad_flags);
  msr::MsrFilter too_big;
  too_big.ranges.push_back({.flags = 1, .base = 0, .nmsrs = 0x600 * 8 + 64,
                            .bitmap = std::vector<uint8_t>(0x600 + 8, 0)});
  invalid.push_back(too_big);
  msr::MsrFilter too_many;
  for (uint32_t i = 0; i < 17; ++i) {
    too_many.ranges.push_back({.flags = 1, .base = i * 0x100, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0)});
  }
  invalid.push_back(too_many);
  msr::MsrFilter bad_reasons;
  bad_reasons.exit_reasons = 1u << 7;
  bad_reasons.ranges.push_back({.flags = 1, .base = 0x10, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0)});
  invalid.push_back(bad_reasons);
  for (const std::string& kind : Backends()) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    for (size_t i = 0; i < invalid.size(); ++i) {
      absl::Status s = vm.runner().vm().SetMsrFilter(invalid[i]);
      EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << kind << " filter " << i << ": " << s;
    }
  }
}

// MSR_CORE_THREAD_COUNT (0x35), the seed's example: emulated in user space
// from the VM's topology, read by the guest.
TEST_F(MsrConformanceTest, CoreThreadCountFromTopology) {
  v1::MsrPolicy policy;
  policy.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  *policy.add_handlers() =
      Handler(kCoreThreadCount, v1::MsrHandler::READ_SOURCE_TOPOLOGY, 0, v1::MsrHandler::WRITE_ACTION_GP);
  for (uint32_t vcpus : {1u, 3u}) {
    std::vector<std::vector<std::string>> results;
    for (const std::string& kind : Backends()) {
      BackendVm vm(kind, vcpus);
      ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
      ASSERT_TRUE(vm.runner().msr_router().SetPolicy(policy).ok());
      auto r = vm.Run({Rdmsr(kCoreThreadCount), Wrmsr(kCoreThreadCount, 0), Rdmsr(kFabricated)});
      ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
      EXPECT_EQ(r->results(0).values(0), (uint64_t{vcpus} << 16) | vcpus) << kind;
      EXPECT_EQ(r->results(1).outcome(), v1::PROBE_OUTCOME_FAULT) << kind;
      // Unknown to KVM and without a handler: #GP, counted as unhandled.
      EXPECT_EQ(r->results(2).outcome(), v1::PROBE_OUTCOME_FAULT) << kind;
      v1::MsrStats stats = vm.runner().msr_router().Stats();
      EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_UNHANDLED, v1::MSR_ACCESS_READ), 1u) << kind;
      results.push_back(Summary(*r));
    }
    if (results.size() == 2) {
    EXPECT_EQ(results[0], results[1]) << "sim and kvm differ";
  }
  }
}

}  // namespace
}  // namespace vmd::conformance

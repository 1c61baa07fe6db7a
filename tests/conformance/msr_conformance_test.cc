// MSR policy conformance (issue: MSR allow-list policy; seed 001; issue 9):
// the four cases of the kernel selftest userspace_msr_exit_test with its own
// MSRs and exit counts, as probe programs and policies, and
// MSR_CORE_THREAD_COUNT emulated from the VM's topology. Each runs on sim and,
// where usable, on kvm, and both must give the same results and counts.
#include <atomic>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "backend/hypervisor/hypervisor.h"
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

// The backends each case runs on: the sim with its default (Intel) profile
// and with the `host` profile, and kvm where usable. Every case here is
// vendor-neutral, so all must agree.
class MsrConformanceTest : public ::testing::Test {
 protected:
  std::vector<std::string> Backends() {
    std::vector<std::string> kinds = {"sim"};
    std::string why;
    if (KvmUsable(&why)) {
      kinds.push_back(std::string("sim:") + hv::kSimHostProfile);
      kinds.push_back("kvm");
      std::cout << "[kvm] ran on real KVM" << std::endl;
    } else {
      std::cout << "[msr-conformance] kvm and the sim's host profile skipped: " << why << std::endl;
    }
    return kinds;
  }
  // Every entry equal to the first.
  static void ExpectSame(const std::vector<std::vector<std::string>>& results, const std::vector<std::string>& kinds) {
    for (size_t i = 1; i < results.size(); ++i) EXPECT_EQ(results[0], results[i]) << kinds[0] << " vs " << kinds[i];
  }
};

// Exits to user space, by direction: every trapped access is counted once,
// whatever the handler answered.
uint64_t Exits(const v1::MsrStats& stats, v1::MsrAccess access) {
  return Count(stats, v1::MSR_OUTCOME_EMULATED, access) + Count(stats, v1::MSR_OUTCOME_DENIED, access) +
         Count(stats, v1::MSR_OUTCOME_UNHANDLED, access);
}

// The selftest's MSRs (tools/testing/selftests/kvm/x86/userspace_msr_exit_test.c).
constexpr uint32_t kFlushCmd = 0x10b, kNonExistent = 0x474f4f00, kPowerCtl = 0x1fc;
constexpr uint32_t kSyscallMask = 0xc0000084, kFsBase = 0xc0000100, kGsBase = 0xc0000101, kDeadbeef = 0xdeadbeef;

// filter_allow: XSS (known to KVM), FLUSH_CMD and a fabricated MSR all
// denied by the filter, so every access exits and user space answers: XSS
// reads 0 and takes only 0; FLUSH_CMD #GPs on reads and takes only 1;
// MSR_NON_EXISTENT keeps what is written.
v1::MsrPolicy FilterAllowPolicy() {
  v1::MsrPolicy policy;
  policy.set_default_action(v1::MSR_ACTION_ALLOW);
  for (uint32_t index : {kXss, kFlushCmd, kNonExistent}) {
    *policy.add_rules() = Rule(index, 1, v1::MSR_ACCESS_READ_WRITE, v1::MSR_ACTION_EMULATE);
  }
  *policy.add_handlers() =
      Handler(kXss, v1::MsrHandler::READ_SOURCE_CONSTANT, 0, v1::MsrHandler::WRITE_ACTION_ONLY_CONSTANT);
  *policy.add_handlers() =
      Handler(kFlushCmd, v1::MsrHandler::READ_SOURCE_GP, 1, v1::MsrHandler::WRITE_ACTION_ONLY_CONSTANT);
  *policy.add_handlers() =
      Handler(kNonExistent, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, 0, v1::MsrHandler::WRITE_ACTION_STORE);
  return policy;
}

TEST_F(MsrConformanceTest, SelftestFilterAllow) {
  const std::vector<v1::ProbeOp> guest = {Rdmsr(kXss),          Wrmsr(kXss, 0),          Wrmsr(kXss, 1),
                                          Rdmsr(kFlushCmd),     Wrmsr(kFlushCmd, 0),     Wrmsr(kFlushCmd, 1),
                                          Wrmsr(kNonExistent, 2), Rdmsr(kNonExistent)};
  std::vector<std::vector<std::string>> results;
  const std::vector<std::string> kinds = Backends();
  for (const std::string& kind : kinds) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    auto set = vm.runner().msr_router().SetPolicy(FilterAllowPolicy());
    ASSERT_TRUE(set.ok()) << kind << ": " << set.status();
    auto r = vm.Run(guest);
    ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
    EXPECT_EQ(r->results(0).values(0), 0u) << kind;
    for (int i : {2, 3, 4}) EXPECT_EQ(r->results(i).outcome(), v1::PROBE_OUTCOME_FAULT) << kind << " op " << i;
    for (int i : {0, 1, 5, 6, 7}) EXPECT_EQ(r->results(i).outcome(), v1::PROBE_OUTCOME_OK) << kind << " op " << i;
    EXPECT_EQ(r->results(7).values(0), 2u) << kind;
    // The selftest's exits: 3 RDMSR, 5 WRMSR; a handler's #GP counts as denied.
    v1::MsrStats stats = vm.runner().msr_router().Stats();
    EXPECT_EQ(Exits(stats, v1::MSR_ACCESS_READ), 3u) << kind;
    EXPECT_EQ(Exits(stats, v1::MSR_ACCESS_WRITE), 5u) << kind;
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_DENIED, v1::MSR_ACCESS_READ), 1u) << kind;
    EXPECT_EQ(Count(stats, v1::MSR_OUTCOME_DENIED, v1::MSR_ACCESS_WRITE), 2u) << kind;
    results.push_back(Summary(*r));
  }
  ExpectSame(results, kinds);
}

// filter_deny: the first round traps reads of SYSCALL_MASK and GS_BASE and
// writes of POWER_CTL, answered in user space with the MSR's index; the
// fabricated 0xdeadbeef exits as unknown. The second round removes the
// filter: KVM handles all but 0xdeadbeef. Exactly 4 RDMSR and 3 WRMSR exits.
std::vector<v1::ProbeOp> GuestMsrCalls() {
  return {Wrmsr(kSyscallMask, 0), Rdmsr(kSyscallMask), Rdmsr(kGsBase), Wrmsr(kPowerCtl, 0x1234),
          Rdmsr(kPowerCtl),       Rdmsr(kDeadbeef),    Wrmsr(kDeadbeef, 0x1234)};
}

TEST_F(MsrConformanceTest, SelftestFilterDenyCountsExits) {
  v1::MsrPolicy trapped;
  trapped.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  *trapped.add_rules() = Rule(kSyscallMask, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_EMULATE);
  *trapped.add_rules() = Rule(kGsBase, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_EMULATE);
  *trapped.add_rules() = Rule(kPowerCtl, 1, v1::MSR_ACCESS_WRITE, v1::MSR_ACTION_EMULATE);
  for (uint32_t index : {kSyscallMask, kGsBase, kDeadbeef}) {
    *trapped.add_handlers() =
        Handler(index, v1::MsrHandler::READ_SOURCE_CONSTANT, index, v1::MsrHandler::WRITE_ACTION_IGNORE);
  }
  *trapped.add_handlers() = Handler(kPowerCtl, v1::MsrHandler::READ_SOURCE_GP, 0, v1::MsrHandler::WRITE_ACTION_IGNORE);
  v1::MsrPolicy untrapped;  // no filter; unknown MSRs still exit
  untrapped.set_unknown_msrs(v1::UNKNOWN_MSR_ACTION_EMULATE);
  *untrapped.add_handlers() =
      Handler(kDeadbeef, v1::MsrHandler::READ_SOURCE_CONSTANT, kDeadbeef, v1::MsrHandler::WRITE_ACTION_IGNORE);
  std::vector<std::vector<std::string>> results;
  const std::vector<std::string> kinds = Backends();
  for (const std::string& kind : kinds) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    ASSERT_TRUE(vm.runner().msr_router().SetPolicy(trapped).ok()) << kind;
    auto first = vm.Run(GuestMsrCalls());
    ASSERT_TRUE(first.ok()) << kind << ": " << first.status();
    ASSERT_TRUE(vm.runner().msr_router().SetPolicy(untrapped).ok()) << kind;
    auto second = vm.Run(GuestMsrCalls());
    ASSERT_TRUE(second.ok()) << kind << ": " << second.status();
    for (const v1::RunProbeResponse* r : {&*first, &*second}) {
      for (const v1::ProbeResult& res : r->results()) EXPECT_EQ(res.outcome(), v1::PROBE_OUTCOME_OK) << kind;
      EXPECT_EQ(r->results(5).values(0), kDeadbeef) << kind;
    }
    EXPECT_EQ(first->results(1).values(0), kSyscallMask) << kind;
    EXPECT_EQ(first->results(2).values(0), kGsBase) << kind;
    EXPECT_EQ(first->results(4).values(0), 0u) << kind << ": the trapped POWER_CTL write never reached KVM";
    EXPECT_NE(second->results(1).values(0), kSyscallMask) << kind;
    EXPECT_NE(second->results(2).values(0), kGsBase) << kind;
    EXPECT_EQ(second->results(4).values(0), 0x1234u) << kind;
    v1::MsrStats stats = vm.runner().msr_router().Stats();
    EXPECT_EQ(Exits(stats, v1::MSR_ACCESS_READ), 4u) << kind;
    EXPECT_EQ(Exits(stats, v1::MSR_ACCESS_WRITE), 3u) << kind;
    std::vector<std::string> both = Summary(*first);
    for (const std::string& line : Summary(*second)) both.push_back(line);
    results.push_back(both);
  }
  ExpectSame(results, kinds);
}

// permission_bitmap: a filter trapping FS_BASE reads, switched to one
// trapping GS_BASE reads, then to filter_allow's: each read is answered by
// user space only while its MSR is trapped.
TEST_F(MsrConformanceTest, SelftestPermissionBitmap) {
  auto trap_read = [](uint32_t index) {
    v1::MsrPolicy p;
    *p.add_rules() = Rule(index, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_EMULATE);
    *p.add_handlers() = Handler(index, v1::MsrHandler::READ_SOURCE_CONSTANT, index, v1::MsrHandler::WRITE_ACTION_GP);
    return p;
  };
  std::vector<std::vector<std::string>> results;
  const std::vector<std::string> kinds = Backends();
  for (const std::string& kind : kinds) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
    std::vector<std::string> summary;
    for (const v1::MsrPolicy& policy : {trap_read(kFsBase), trap_read(kGsBase), FilterAllowPolicy()}) {
      ASSERT_TRUE(vm.runner().msr_router().SetPolicy(policy).ok()) << kind;
      auto r = vm.Run({Rdmsr(kFsBase), Rdmsr(kGsBase)});
      ASSERT_TRUE(r.ok()) << kind << ": " << r.status();
      for (const std::string& line : Summary(*r)) summary.push_back(line);
    }
    ASSERT_EQ(summary.size(), 6u);
    v1::MsrStats stats = vm.runner().msr_router().Stats();
    EXPECT_EQ(Exits(stats, v1::MSR_ACCESS_READ), 2u) << kind;
    results.push_back(summary);
  }
  ExpectSame(results, kinds);
  ASSERT_FALSE(results.empty());
  EXPECT_EQ(results[0][0], absl::StrCat("PROBE_OUTCOME_OK/0 ", kFsBase));
  EXPECT_NE(results[0][1], absl::StrCat("PROBE_OUTCOME_OK/0 ", kGsBase));
  EXPECT_NE(results[0][2], absl::StrCat("PROBE_OUTCOME_OK/0 ", kFsBase));
  EXPECT_EQ(results[0][3], absl::StrCat("PROBE_OUTCOME_OK/0 ", kGsBase));
}

// A probe hammering an MSR while the policy switches sees only the old or
// the new answer (the filter update is atomic per vCPU).
TEST_F(MsrConformanceTest, PolicySwitchedAtRunTimeIsAtomic) {
  v1::MsrPolicy emulate;
  *emulate.add_rules() = Rule(kPat, 1, v1::MSR_ACCESS_READ, v1::MSR_ACTION_EMULATE);
  *emulate.add_handlers() =
      Handler(kPat, v1::MsrHandler::READ_SOURCE_CONSTANT, 0xaaaa, v1::MsrHandler::WRITE_ACTION_GP);
  v1::MsrPolicy allow;  // default: KVM handles PAT
  for (const std::string& kind : Backends()) {
    BackendVm vm(kind);
    ASSERT_TRUE(vm.status().ok()) << kind << ": " << vm.status();
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
  // The selftest's user_exit_msr_flags: every undefined bit of the exit
  // reason mask (KVM_MSR_EXIT_REASON_VALID_MASK = 0x7) and of the range
  // flags (KVM_MSR_FILTER_RANGE_VALID_MASK = 0x3).
  for (int bit = 3; bit < 32; ++bit) {
    msr::MsrFilter bad_reasons;
    bad_reasons.exit_reasons = 1u << bit;
    bad_reasons.ranges.push_back({.flags = 1, .base = 0x10, .nmsrs = 8, .bitmap = std::vector<uint8_t>(8, 0)});
    invalid.push_back(bad_reasons);
  }
  for (int bit = 2; bit < 32; ++bit) {
    msr::MsrFilter bad_range;
    bad_range.ranges.push_back({.flags = 1u << bit, .base = 0, .nmsrs = 1, .bitmap = std::vector<uint8_t>(8, 0)});
    invalid.push_back(bad_range);
  }
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

// MSR policies end to end through vmd: in the spec at create, replaced on a
// running VM, enforced by the engine (seen by the guest through probes),
// counted, audited with rate-limited events, kept across a vmd crash, and
// refused with nothing changed when invalid.
#include <signal.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"
#include "vmd/v1/msr.grpc.pb.h"
#include "vmd/v1/probe.grpc.pb.h"

namespace vmd::testing {
namespace {

constexpr uint32_t kCoreThreadCount = 0x35, kPat = 0x277;

class MsrPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { Connect(); }
  void Connect() {
    if (!daemon_.running()) daemon_.Start();
    vms_ = daemon_.vms();
    msr_ = v1::MsrService::NewStub(daemon_.channel());
    probe_ = v1::ProbeService::NewStub(daemon_.channel());
  }

  // A running sim probe VM whose policy denies PAT writes (logged) and
  // emulates MSR_CORE_THREAD_COUNT from the topology.
  void StartVm(const std::string& name) {
    v1::CreateVmRequest create;
    *create.mutable_spec() = SmallSpec(name, v1::BACKEND_SIM, "probe");
    create.mutable_spec()->set_vcpus(4);
    v1::MsrPolicy* p = create.mutable_spec()->mutable_msr_policy();
    p->set_log_denials(true);
    v1::MsrRule* deny = p->add_rules();
    deny->set_first(kPat);
    deny->set_count(1);
    deny->set_access(v1::MSR_ACCESS_WRITE);
    deny->set_action(v1::MSR_ACTION_DENY);
    v1::MsrRule* emulate = p->add_rules();
    emulate->set_first(kCoreThreadCount);
    emulate->set_count(1);
    emulate->set_access(v1::MSR_ACCESS_READ_WRITE);
    emulate->set_action(v1::MSR_ACTION_EMULATE);
    v1::MsrHandler* h = p->add_handlers();
    h->set_index(kCoreThreadCount);
    h->set_read(v1::MsrHandler::READ_SOURCE_TOPOLOGY);
    h->set_write(v1::MsrHandler::WRITE_ACTION_GP);
    grpc::ClientContext c1, c2;
    v1::Vm vm;
    ASSERT_TRUE(vms_->CreateVm(&c1, create, &vm).ok());
    v1::StartVmRequest start;
    start.set_name(name);
    ASSERT_TRUE(vms_->StartVm(&c2, start, &vm).ok());
  }

  v1::RunProbeResponse Probe(const std::string& name, std::vector<std::pair<uint32_t, std::optional<uint64_t>>> ops) {
    v1::RunProbeRequest req;
    req.set_name(name);
    for (auto [index, write] : ops) {
      if (write) {
        req.add_ops()->mutable_wrmsr()->set_index(index);
        req.mutable_ops(req.ops_size() - 1)->mutable_wrmsr()->set_value(*write);
      } else {
        req.add_ops()->mutable_rdmsr()->set_index(index);
      }
    }
    grpc::ClientContext ctx;
    v1::RunProbeResponse resp;
    grpc::Status s = probe_->RunProbe(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  v1::MsrPolicy GetPolicy(const std::string& name) {
    grpc::ClientContext ctx;
    v1::GetMsrPolicyRequest req;
    req.set_name(name);
    v1::MsrPolicy policy;
    EXPECT_TRUE(msr_->GetMsrPolicy(&ctx, req, &policy).ok());
    return policy;
  }

  std::vector<v1::Event> Events(v1::EventType type, std::chrono::milliseconds wait) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + wait);
    auto reader = vms_->WatchEvents(&ctx, {});
    std::vector<v1::Event> out;
    v1::Event e;
    while (reader->Read(&e)) {
      if (e.type() == type) out.push_back(e);
    }
    return out;
  }

  DaemonProcess daemon_;
  std::unique_ptr<v1::VmService::Stub> vms_;
  std::unique_ptr<v1::MsrService::Stub> msr_;
  std::unique_ptr<v1::ProbeService::Stub> probe_;
};

TEST_F(MsrPolicyTest, PolicyFromTheSpecIsEnforcedCountedAndAudited) {
  StartVm("m1");
  v1::RunProbeResponse r = Probe("m1", {{kCoreThreadCount, std::nullopt}, {kPat, 0x0007040600070406ull},
                                        {kPat, std::nullopt}});
  ASSERT_EQ(r.results_size(), 3);
  EXPECT_EQ(r.results(0).values(0), (4u << 16) | 4u) << "cores and threads of a 4-vCPU VM";
  EXPECT_EQ(r.results(1).outcome(), v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(r.results(2).outcome(), v1::PROBE_OUTCOME_OK) << "reads of PAT stay with KVM";

  // A guest loop hammering the denied MSR cannot flood the events.
  std::vector<std::pair<uint32_t, std::optional<uint64_t>>> hammer(250, {kPat, 0});
  for (int i = 0; i < 4; ++i) Probe("m1", hammer);

  grpc::ClientContext ctx;
  v1::GetMsrStatsRequest sreq;
  sreq.set_name("m1");
  v1::MsrStats stats;
  ASSERT_TRUE(msr_->GetMsrStats(&ctx, sreq, &stats).ok());
  uint64_t denied = 0, emulated = 0;
  for (const v1::MsrCounter& c : stats.counters()) {
    if (c.index() == kPat && c.outcome() == v1::MSR_OUTCOME_DENIED) denied += c.count();
    if (c.index() == kCoreThreadCount && c.outcome() == v1::MSR_OUTCOME_EMULATED) emulated += c.count();
  }
  EXPECT_EQ(denied, 1001u);
  EXPECT_EQ(emulated, 1u);
  EXPECT_GT(stats.denial_events_suppressed(), 900u);
  EXPECT_EQ(stats.denial_events() + stats.denial_events_suppressed(), 1001u);

  std::vector<v1::Event> denials = Events(v1::EVENT_TYPE_MSR_DENIED, std::chrono::milliseconds(2500));
  ASSERT_FALSE(denials.empty());
  EXPECT_LE(denials.size(), stats.denial_events());
  EXPECT_EQ(denials[0].message(), "wrmsr 0x277 denied");
  EXPECT_EQ(denials[0].vm_name(), "m1");

  // GetVm shows the policy.
  grpc::ClientContext gctx;
  v1::GetVmRequest get;
  get.set_name("m1");
  v1::Vm vm;
  ASSERT_TRUE(vms_->GetVm(&gctx, get, &vm).ok());
  EXPECT_EQ(vm.spec().msr_policy().rules_size(), 2);
}

TEST_F(MsrPolicyTest, LivePolicyChangesAreStoredAndSurviveAVmdCrash) {
  StartVm("m2");
  v1::SetMsrPolicyRequest set;
  set.set_name("m2");
  set.set_preset("strict");
  set.set_request_id("strict-1");
  grpc::ClientContext ctx;
  v1::SetMsrPolicyResponse resp;
  ASSERT_TRUE(msr_->SetMsrPolicy(&ctx, set, &resp).ok());
  EXPECT_EQ(resp.policy().preset(), "strict");
  EXPECT_EQ(resp.policy().default_action(), v1::MSR_ACTION_DENY);
  EXPECT_GT(resp.filter().ranges(), 0u);
  EXPECT_LE(resp.filter().ranges(), 16u);
  // Strict denies what a guest OS does not need: the emulated MSR is gone.
  v1::RunProbeResponse r = Probe("m2", {{kCoreThreadCount, std::nullopt}, {0x10, std::nullopt}});
  EXPECT_EQ(r.results(0).outcome(), v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(r.results(1).outcome(), v1::PROBE_OUTCOME_OK) << "strict allows the TSC";

  // A retry returns the first answer and changes nothing more.
  size_t changes = Events(v1::EVENT_TYPE_MSR_POLICY_CHANGED, std::chrono::milliseconds(300)).size();
  grpc::ClientContext retry_ctx;
  v1::SetMsrPolicyResponse again;
  ASSERT_TRUE(msr_->SetMsrPolicy(&retry_ctx, set, &again).ok());
  EXPECT_EQ(again.SerializeAsString(), resp.SerializeAsString());
  EXPECT_EQ(Events(v1::EVENT_TYPE_MSR_POLICY_CHANGED, std::chrono::milliseconds(300)).size(), changes);

  daemon_.Kill(SIGKILL);
  Connect();
  v1::MsrPolicy stored = GetPolicy("m2");
  EXPECT_EQ(stored.preset(), "strict");
  EXPECT_EQ(stored.SerializeAsString(), resp.policy().SerializeAsString());
  r = Probe("m2", {{kCoreThreadCount, std::nullopt}});
  EXPECT_EQ(r.results(0).outcome(), v1::PROBE_OUTCOME_FAULT) << "the engine still enforces it";
}

TEST_F(MsrPolicyTest, InvalidPoliciesNameTheRuleAndChangeNothing) {
  StartVm("m3");
  v1::MsrPolicy before = GetPolicy("m3");
  size_t changes = Events(v1::EVENT_TYPE_MSR_POLICY_CHANGED, std::chrono::milliseconds(300)).size();

  v1::SetMsrPolicyRequest set;
  set.set_name("m3");
  v1::MsrRule* x2apic = set.mutable_policy()->add_rules();
  x2apic->set_first(0x800);
  x2apic->set_count(0x100);
  x2apic->set_access(v1::MSR_ACCESS_READ);
  x2apic->set_action(v1::MSR_ACTION_DENY);
  grpc::ClientContext ctx;
  v1::SetMsrPolicyResponse resp;
  grpc::Status s = msr_->SetMsrPolicy(&ctx, set, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("policy.rules[0]"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("x2APIC"), std::string::npos) << s.error_message();

  v1::SetMsrPolicyRequest handler_only;
  handler_only.set_name("m3");
  handler_only.mutable_policy()->add_handlers()->set_index(0x1234);
  handler_only.mutable_policy()->mutable_handlers(0)->set_read(v1::MsrHandler::READ_SOURCE_CONSTANT);
  handler_only.mutable_policy()->mutable_handlers(0)->set_write(v1::MsrHandler::WRITE_ACTION_IGNORE);
  grpc::ClientContext ctx2;
  s = msr_->SetMsrPolicy(&ctx2, handler_only, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("handlers[0]"), std::string::npos) << s.error_message();

  v1::SetMsrPolicyRequest preset;
  preset.set_name("m3");
  preset.set_preset("lenient");
  grpc::ClientContext ctx3;
  s = msr_->SetMsrPolicy(&ctx3, preset, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("strict"), std::string::npos) << "lists the known presets";

  EXPECT_EQ(GetPolicy("m3").SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(Events(v1::EVENT_TYPE_MSR_POLICY_CHANGED, std::chrono::milliseconds(300)).size(), changes);

  // A shadowed rule is accepted, with a warning.
  v1::SetMsrPolicyRequest shadowed;
  shadowed.set_name("m3");
  for (uint32_t count : {16u, 4u}) {
    v1::MsrRule* r = shadowed.mutable_policy()->add_rules();
    r->set_first(0x10);
    r->set_count(count);
    r->set_access(v1::MSR_ACCESS_READ_WRITE);
    r->set_action(v1::MSR_ACTION_DENY);
  }
  grpc::ClientContext ctx4;
  ASSERT_TRUE(msr_->SetMsrPolicy(&ctx4, shadowed, &resp).ok());
  ASSERT_EQ(resp.warnings_size(), 1);
  EXPECT_NE(resp.warnings(0).find("rules[1]"), std::string::npos) << resp.warnings(0);
}

TEST_F(MsrPolicyTest, VmctlSetsAndShowsPolicies) {
  StartVm("m4");
  std::string out, err;
  ASSERT_EQ(daemon_.Vmctl("msr set m4 --preset platform-compat", &out, &err), 0) << err;
  EXPECT_NE(out.find("platform-compat"), std::string::npos) << out;
  ASSERT_EQ(daemon_.Vmctl("msr get m4", &out), 0);
  EXPECT_NE(out.find("preset:         platform-compat"), std::string::npos) << out;
  Probe("m4", {{0xc0010000, std::nullopt}});  // an AMD MSR on an Intel profile: denied
  ASSERT_EQ(daemon_.Vmctl("msr stats m4", &out), 0);
  EXPECT_NE(out.find("0xc0010000"), std::string::npos) << out;
  EXPECT_NE(out.find("denied"), std::string::npos) << out;
  EXPECT_EQ(daemon_.Vmctl("msr set m4 --preset nope", &out, &err), 2);
}

}  // namespace
}  // namespace vmd::testing

// PMU negotiation through vmd (issue 10): this host's PMU in GetHostInfo,
// NegotiatePmu as a dry run, CreateVm refusing a strict spec the host cannot
// give (listing every item, storing nothing), the grant in GetVm, and a
// running guest reading the PMU it was granted.
#include <gtest/gtest.h>

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"
#include "vmd/v1/pmu.grpc.pb.h"
#include "vmd/v1/probe.grpc.pb.h"

namespace vmd::testing {
namespace {

v1::PmuSpec EngineV5() {
  v1::PmuSpec s;
  s.set_mode(v1::PMU_MODE_CUSTOM);
  s.mutable_custom()->set_version(5);
  s.mutable_custom()->set_gp_counters(4);
  s.mutable_custom()->set_fixed_counter_bitmap(0b0110);
  return s;
}

v1::VmSpec ProbeVm(const std::string& name, const v1::PmuSpec& pmu) {
  v1::VmSpec spec;
  spec.set_name(name);
  spec.set_memory_mib(64);
  spec.set_backend(v1::BACKEND_SIM);
  spec.set_sim_profile("intel-no-pmu");
  spec.set_workload("probe");
  *spec.mutable_pmu() = pmu;
  return spec;
}

class PmuTest : public ::testing::Test {
 protected:
  void SetUp() override { vmd_.Start(); }
  DaemonProcess vmd_;
};

TEST_F(PmuTest, TheHostSaysWhatPmuItHasAndWhy) {
  grpc::ClientContext c;
  v1::HostInfo info;
  ASSERT_TRUE(vmd_.host()->GetHostInfo(&c, {}, &info).ok());
  ASSERT_TRUE(info.has_pmu());
  EXPECT_EQ(info.pmu().engine_max_version(), 5u);
  // Whatever this host has, a missing piece says why.
  EXPECT_TRUE(info.pmu().present() || !info.pmu().reason().empty());
  EXPECT_TRUE(info.pmu().kvm().available() || !info.pmu().kvm().reason().empty());
  bool icelake = false;
  for (const v1::SimProfile& p : info.sim_profiles()) {
    if (p.name() != "intel-icelake-server") continue;
    icelake = true;
    EXPECT_EQ(p.pmu().version(), 5u);
    EXPECT_EQ(p.pmu().kvm().max_version(), 2u) << "upstream KVM caps the vPMU at 2";
    EXPECT_EQ(p.pmu().lbr_depth(), 32u);
  }
  EXPECT_TRUE(icelake);
}

TEST_F(PmuTest, NegotiateIsADryRunAndNamesBadFields) {
  auto pmu = v1::PmuService::NewStub(vmd_.channel());
  v1::NegotiatePmuRequest request;
  *request.mutable_spec() = EngineV5();
  request.set_backend(v1::BACKEND_SIM);
  request.set_sim_profile("intel-no-pmu");
  grpc::ClientContext c;
  v1::PmuGrant grant;
  ASSERT_TRUE(pmu->NegotiatePmu(&c, request, &grant).ok());
  EXPECT_TRUE(grant.satisfied());
  EXPECT_EQ(grant.guest().layer(), v1::PMU_LAYER_ENGINE);
  EXPECT_EQ(grant.host(), "sim:intel-no-pmu");

  request.mutable_spec()->mutable_custom()->set_version(9);
  grpc::ClientContext bad;
  grpc::Status refused = pmu->NegotiatePmu(&bad, request, &grant);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message().rfind("spec.custom.version: must be 1..5", 0), 0u) << refused.error_message();
}

TEST_F(PmuTest, AStrictSpecTheHostCannotGiveIsRefusedWithEveryItemAndNothingStored) {
  auto vms = vmd_.vms();
  v1::PmuSpec lbr = EngineV5();
  lbr.mutable_custom()->set_lbr(v1::LBR_MODE_LEGACY);
  lbr.mutable_custom()->set_pebs(v1::PEBS_MODE_BASIC);
  v1::CreateVmRequest create;
  *create.mutable_spec() = ProbeVm("strict", lbr);
  grpc::ClientContext c;
  v1::Vm vm;
  grpc::Status refused = vms->CreateVm(&c, create, &vm);
  ASSERT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("lbr: asked legacy"), std::string::npos) << refused.error_message();
  EXPECT_NE(refused.error_message().find("pebs: asked basic"), std::string::npos) << refused.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(refused.error_details()));
  bool reason = false;
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) reason = info.reason() == "PMU_NOT_GRANTED";
  }
  EXPECT_TRUE(reason);
  grpc::ClientContext g;
  v1::GetVmRequest get;
  get.set_name("strict");
  EXPECT_EQ(vms->GetVm(&g, get, &vm).error_code(), grpc::StatusCode::NOT_FOUND) << "nothing stored";

  // Best effort: created, with the downgrade in the grant.
  create.mutable_spec()->mutable_pmu()->set_policy(v1::PMU_POLICY_BEST_EFFORT);
  grpc::ClientContext c2;
  ASSERT_TRUE(vms->CreateVm(&c2, create, &vm).ok());
  EXPECT_FALSE(vm.status().pmu_grant().satisfied());
  EXPECT_EQ(vm.status().pmu_grant().guest().lbr(), v1::LBR_MODE_OFF);
  EXPECT_EQ(vm.status().pmu_grant().guest().version(), 5u);
}

TEST_F(PmuTest, AStartedGuestReadsTheGrantedPmu) {
  auto vms = vmd_.vms();
  v1::CreateVmRequest create;
  *create.mutable_spec() = ProbeVm("p", EngineV5());
  grpc::ClientContext c;
  v1::Vm vm;
  ASSERT_TRUE(vms->CreateVm(&c, create, &vm).ok());
  ASSERT_TRUE(vm.status().pmu_grant().satisfied());
  grpc::ClientContext s;
  v1::StartVmRequest start;
  start.set_name("p");
  ASSERT_TRUE(vms->StartVm(&s, start, &vm).ok());
  EXPECT_EQ(vm.status().pmu_grant().guest().layer(), v1::PMU_LAYER_ENGINE);

  auto probes = v1::ProbeService::NewStub(vmd_.channel());
  v1::RunProbeRequest probe;
  probe.set_name("p");
  probe.add_ops()->mutable_cpuid()->set_leaf(0xa);
  probe.add_ops()->mutable_rdmsr()->set_index(0x345);  // PERF_CAPABILITIES
  probe.add_ops()->mutable_rdmsr()->set_index(0x309);  // fixed counter 0: not granted
  probe.add_ops()->mutable_rdmsr()->set_index(0x30a);  // fixed counter 1
  grpc::ClientContext p;
  v1::RunProbeResponse result;
  ASSERT_TRUE(probes->RunProbe(&p, probe, &result).ok());
  const v1::CpuidValue* leaf_a = nullptr;
  for (const v1::CpuidValue& v : vm.status().pmu_grant().guest().cpuid()) {
    if (v.function() == 0xa) leaf_a = &v;
  }
  ASSERT_NE(leaf_a, nullptr);
  ASSERT_EQ(result.results_size(), 4);
  EXPECT_EQ(result.results(0).values(0), leaf_a->eax());
  EXPECT_EQ(result.results(0).values(2), leaf_a->ecx()) << "the v5 fixed-counter bitmap";
  EXPECT_EQ(result.results(1).values(0), vm.status().pmu_grant().guest().perf_capabilities());
  EXPECT_EQ(result.results(2).outcome(), v1::PROBE_OUTCOME_FAULT);
  EXPECT_EQ(result.results(3).outcome(), v1::PROBE_OUTCOME_OK);
}

}  // namespace
}  // namespace vmd::testing

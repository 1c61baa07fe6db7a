#include "daemon/core/validation.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace vmd::daemon {
namespace {

v1::HostInfo Host() {
  v1::HostInfo host;
  auto* kvm = host.add_backends();
  kvm->set_name("kvm");
  kvm->set_usable(false);
  kvm->set_reason("no /dev/kvm");
  auto* sim = host.add_backends();
  sim->set_name("sim");
  sim->set_usable(true);
  sim->set_max_vcpus(64);
  host.set_auto_backend("sim");
  host.mutable_limits()->set_max_vcpus(64);
  host.mutable_limits()->set_max_memory_mib(8192);
  host.add_sim_profiles()->set_name("intel-icelake-server");
  host.add_sim_profiles()->set_name("amd-zen4");
  return host;
}

v1::VmSpec Spec() {
  v1::VmSpec spec;
  spec.set_name("web-1");
  spec.set_vcpus(2);
  spec.set_memory_mib(256);
  return spec;
}

// The error must be INVALID_ARGUMENT and name the field.
void ExpectInvalid(const absl::Status& s, const std::string& field) {
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(field), std::string::npos) << s;
}

TEST(ValidationTest, AcceptsAGoodSpec) { EXPECT_TRUE(ValidateVmSpec(Spec(), Host()).ok()); }

TEST(ValidationTest, Name) {
  for (const char* bad : {"", "Web", "web_1", "-web", "web-", "w.b", "a b"}) {
    v1::VmSpec spec = Spec();
    spec.set_name(bad);
    ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.name");
  }
  v1::VmSpec spec = Spec();
  spec.set_name(std::string(64, 'a'));
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.name");
  spec.set_name(std::string(63, 'a'));
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
  spec.set_name("0-a");
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
}

TEST(ValidationTest, Vcpus) {
  v1::VmSpec spec = Spec();
  spec.set_vcpus(0);
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.vcpus");
  spec.set_vcpus(65);
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.vcpus");
  spec.set_vcpus(64);
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
}

TEST(ValidationTest, Memory) {
  v1::VmSpec spec = Spec();
  spec.set_memory_mib(15);
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.memory_mib");
  spec.set_memory_mib(8193);
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.memory_mib");
  spec.set_memory_mib(16);
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
}

TEST(ValidationTest, Backend) {
  v1::VmSpec spec = Spec();
  spec.set_backend(static_cast<v1::Backend>(42));
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.backend");
  // kvm is accepted at create even where it is unusable: StartVm refuses it.
  spec.set_backend(v1::BACKEND_KVM);
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
}

TEST(ValidationTest, SimProfile) {
  v1::VmSpec spec = Spec();
  spec.set_sim_profile("amd-zen4");
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
  spec.set_sim_profile("pentium-4");
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.sim_profile");
  spec.set_sim_profile("amd-zen4");
  spec.set_backend(v1::BACKEND_KVM);
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.sim_profile");
}

TEST(ValidationTest, Workload) {
  v1::VmSpec spec = Spec();
  for (const char* ok : {"", "idle", "counter"}) {
    spec.set_workload(ok);
    EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok()) << ok;
  }
  spec.set_workload("linux");
  ExpectInvalid(ValidateVmSpec(spec, Host()), "spec.workload");
}

TEST(ValidationTest, Labels) {
  v1::VmSpec spec = Spec();
  (*spec.mutable_labels())["team"] = "serverless";
  (*spec.mutable_labels())["tier.level"] = "";
  EXPECT_TRUE(ValidateVmSpec(spec, Host()).ok());
  for (auto [k, v] : std::vector<std::pair<std::string, std::string>>{
           {"", "x"}, {"-k", "x"}, {"k", "-v"}, {"k k", "v"}, {std::string(64, 'k'), "v"}, {"k", std::string(64, 'v')}}) {
    v1::VmSpec bad = Spec();
    (*bad.mutable_labels())[k] = v;
    ExpectInvalid(ValidateVmSpec(bad, Host()), "spec.labels");
  }
  v1::VmSpec many = Spec();
  for (int i = 0; i < 65; ++i) many.mutable_labels()->try_emplace(absl::StrCat("k", i), "v");
  ExpectInvalid(ValidateVmSpec(many, Host()), "spec.labels");
}

TEST(ValidationTest, RequestId) {
  EXPECT_TRUE(ValidateRequestId("").ok());
  EXPECT_TRUE(ValidateRequestId("6f1c1e2a-0b9e-4d7e-9a55-1b2c3d4e5f60").ok());
  ExpectInvalid(ValidateRequestId(std::string(129, 'x')), "request_id");
  ExpectInvalid(ValidateRequestId("has space"), "request_id");
  ExpectInvalid(ValidateRequestId("tab\t"), "request_id");
}

TEST(ValidationTest, ListRequest) {
  v1::ListVmsRequest r;
  EXPECT_TRUE(ValidateListRequest(r).ok());
  r.set_page_size(-1);
  ExpectInvalid(ValidateListRequest(r), "page_size");
  r.set_page_size(1001);
  ExpectInvalid(ValidateListRequest(r), "page_size");
  r.set_page_size(1000);
  EXPECT_TRUE(ValidateListRequest(r).ok());
  r.add_states(v1::VM_STATE_UNSPECIFIED);
  ExpectInvalid(ValidateListRequest(r), "states");
  r.clear_states();
  r.add_states(static_cast<v1::VmState>(99));
  ExpectInvalid(ValidateListRequest(r), "states");
  r.clear_states();
  r.mutable_label_selector()->try_emplace("bad key", "v");
  ExpectInvalid(ValidateListRequest(r), "label_selector");
}

TEST(ValidationTest, StopTimeout) {
  v1::StopVmRequest r;
  r.set_timeout_ms(600000);
  EXPECT_TRUE(ValidateStopRequest(r).ok());
  r.set_timeout_ms(600001);
  ExpectInvalid(ValidateStopRequest(r), "timeout_ms");
}

}  // namespace
}  // namespace vmd::daemon

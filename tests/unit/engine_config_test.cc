#include "backend/engine/engine_config.h"

#include <gtest/gtest.h>

#include "backend/rpc/proto_json.h"

namespace vmd::engine {
namespace {

TEST(EngineConfigTest, RoundTripsThroughJson) {
  EngineConfig c;
  c.set_vm_id("abc");
  c.set_name("vm1");
  c.set_vcpus(4);
  c.set_memory_mib(512);
  c.set_backend(vmd::v1::BACKEND_SIM);
  c.set_sim_profile("amd-zen4");
  c.set_workload("counter");
  c.set_heartbeat_ms(50);
  c.set_runtime_dir("/run/x");
  c.set_start_paused(true);
  c.mutable_restore()->set_snapshot_dir("/snap");
  auto parsed = ParseEngineConfig(rpc::ToJson(c, /*multiline=*/true));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->SerializeAsString(), c.SerializeAsString());
  EXPECT_EQ(SocketPath(*parsed), "/run/x/engine.sock");
  EXPECT_EQ(ExitPath(*parsed), "/run/x/exit.json");
}

TEST(EngineConfigTest, DefaultsAreFilledIn) {
  auto parsed = ParseEngineConfig("{}");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->vcpus(), 1u);
  EXPECT_EQ(parsed->memory_mib(), 64u);
  EXPECT_EQ(parsed->heartbeat_ms(), 1000u);
  EXPECT_EQ(parsed->backend(), vmd::v1::BACKEND_AUTO);
  EXPECT_EQ(parsed->workload(), "idle");
  EXPECT_EQ(parsed->vm_id(), "standalone");
  EXPECT_FALSE(parsed->start_paused());
  EXPECT_FALSE(parsed->has_restore());
}

TEST(EngineConfigTest, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c : {Case{"[]", "EngineConfig"}, Case{R"({"vcpus": 0})", "vcpus"},
                        Case{R"({"vcpus": "two"})", "vcpus"}, Case{R"({"memory_mib": 8})", "memory_mib"},
                        Case{R"({"backend": "xen"})", "backend"}, Case{R"({"workload": "linux"})", "workload"},
                        Case{R"({"heartbeat_ms": 0})", "heartbeat_ms"}, Case{R"({"vcpu": 2})", "vcpu"},
                        Case{R"({"restore": {}})", "restore.snapshot_dir"}, Case{"{not json", "EngineConfig"}}) {
    auto parsed = ParseEngineConfig(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.field), std::string::npos) << parsed.status();
  }
}

}  // namespace
}  // namespace vmd::engine

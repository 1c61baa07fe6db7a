#include "backend/engine_config.h"

#include <gtest/gtest.h>

namespace vmd::engine {
namespace {

TEST(EngineConfigTest, RoundTrip) {
  EngineConfig c{.vm_id = "abc", .name = "vm1", .vcpus = 4, .memory_mib = 512, .backend = "sim",
                 .sim_profile = "amd-zen4", .workload = "counter", .heartbeat_ms = 50, .runtime_dir = "/run/x"};
  auto parsed = ParseEngineConfig(EngineConfigToJson(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->vm_id, "abc");
  EXPECT_EQ(parsed->vcpus, 4u);
  EXPECT_EQ(parsed->memory_mib, 512u);
  EXPECT_EQ(parsed->sim_profile, "amd-zen4");
  EXPECT_EQ(parsed->workload, "counter");
  EXPECT_EQ(parsed->heartbeat_ms, 50u);
  EXPECT_EQ(parsed->socket_path(), "/run/x/engine.sock");
}

TEST(EngineConfigTest, ErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c : {Case{"[]", "JSON object"}, Case{R"({"vcpus": 0})", "vcpus"},
                        Case{R"({"vcpus": "two"})", "vcpus"}, Case{R"({"memory_mib": 8})", "memory_mib"},
                        Case{R"({"backend": "xen"})", "backend"}, Case{R"({"workload": "linux"})", "workload"},
                        Case{R"({"heartbeat_ms": 0})", "heartbeat_ms"}, Case{"{not json", "JSON object"}}) {
    auto parsed = ParseEngineConfig(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(parsed.status().message().find(c.field), std::string::npos) << parsed.status();
  }
}

}  // namespace
}  // namespace vmd::engine

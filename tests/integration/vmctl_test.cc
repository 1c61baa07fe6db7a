// The same lifecycle through the vmctl binary, as a user types it.
#include <gtest/gtest.h>
#include "nlohmann/json.hpp"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using nlohmann::json;

class VmctlTest : public ::testing::Test {
 protected:
  void SetUp() override { daemon_.Start(); }
  // Runs vmctl -o json ARGS and parses its output.
  json Json(const std::string& args) {
    std::string out;
    EXPECT_EQ(daemon_.Vmctl("-o json " + args, &out), 0) << args;
    json j = json::parse(out, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << out;
    return j;
  }
  DaemonProcess daemon_;
};

TEST_F(VmctlTest, FullLifecycle) {
  std::string out, err;
  ASSERT_EQ(daemon_.Vmctl("create web --workload counter --backend sim --memory-mib 64 --label app=web", &out, &err), 0)
      << err;
  EXPECT_NE(out.find("created"), std::string::npos) << out;

  json vm = Json("start web");
  EXPECT_EQ(vm["status"]["state"], "VM_STATE_RUNNING");
  EXPECT_EQ(vm["status"]["backend"], "BACKEND_SIM");

  ASSERT_EQ(daemon_.Vmctl("list", &out), 0);
  EXPECT_NE(out.find("NAME"), std::string::npos);
  EXPECT_NE(out.find("web"), std::string::npos);
  EXPECT_NE(out.find("running"), std::string::npos);

  json listed = Json("list --label app=web");
  ASSERT_EQ(listed["vms"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["vms"][0]["spec"]["name"], "web");
  EXPECT_EQ(Json("list --label app=db")["vms"].size(), 0u);

  // The console shows the guest's boot line and heartbeats.
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(daemon_.Vmctl("console web", &out), 0);
    if (out.find("heartbeat 2 ") != std::string::npos) break;
    usleep(20000);
  }
  EXPECT_EQ(out.rfind("vmd firmware: counter on 1 vcpu(s)\n", 0), 0u) << out;
  EXPECT_NE(out.find("heartbeat 2 counter="), std::string::npos);

  EXPECT_EQ(Json("pause web")["status"]["state"], "VM_STATE_PAUSED");
  EXPECT_EQ(Json("resume web")["status"]["state"], "VM_STATE_RUNNING");
  EXPECT_EQ(Json("stop web --timeout-ms 5000")["status"]["state"], "VM_STATE_STOPPED");
  EXPECT_EQ(Json("get web")["status"]["state"], "VM_STATE_STOPPED");

  // `events` follows until it is told to stop, and exits cleanly.
  // Interrupted once it has printed the stop (however slowly it starts:
  // sanitizer builds take a while), it exits 0.
  ASSERT_EQ(daemon_.Vmctl("events --vm web > /tmp/vmctl-events.$PPID.out & pid=$!; "
                          "for i in $(seq 300); do grep -q stopped /tmp/vmctl-events.$PPID.out && break; sleep 0.05; done; "
                          "kill -INT $pid; wait $pid; rc=$?; cat /tmp/vmctl-events.$PPID.out; rm -f /tmp/vmctl-events.$PPID.out; exit $rc",
                          &out),
            0);
  EXPECT_NE(out.find("running"), std::string::npos) << out;
  EXPECT_NE(out.find("stopped"), std::string::npos) << out;

  ASSERT_EQ(daemon_.Vmctl("delete web", &out), 0);
  EXPECT_NE(daemon_.Vmctl("get web", &out, &err), 0);
  EXPECT_NE(err.find("NOT_FOUND"), std::string::npos) << err;
}

TEST_F(VmctlTest, ErrorsAreOneLineWithTheServerMessage) {
  std::string out, err;
  ASSERT_EQ(daemon_.Vmctl("create idle1 --backend sim", &out), 0);
  EXPECT_EQ(daemon_.Vmctl("pause idle1", &out, &err), 1);
  EXPECT_EQ(err, "vmctl: FAILED_PRECONDITION: vm \"idle1\" is created; pause needs state running\n");
  EXPECT_EQ(daemon_.Vmctl("create Bad_Name", &out, &err), 1);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("INVALID_ARGUMENT: spec.name"), std::string::npos) << err;
}

TEST_F(VmctlTest, RequestIdMakesRetriesSafe) {
  std::string out;
  json first = Json("create idem --backend sim --request-id r-1");
  json again = Json("create idem --backend sim --request-id r-1");
  EXPECT_EQ(first["id"], again["id"]);
  json s1 = Json("start idem --request-id r-2");
  json s2 = Json("start idem --request-id r-2");
  EXPECT_EQ(s1["status"]["enginePid"], s2["status"]["enginePid"]);
  Json("stop idem --force");
}

TEST_F(VmctlTest, HostShowsBackendsAndProfiles) {
  std::string out;
  ASSERT_EQ(daemon_.Vmctl("host", &out), 0);
  EXPECT_NE(out.find("sim"), std::string::npos);
  EXPECT_NE(out.find("intel-sapphire-rapids"), std::string::npos);
  json host = Json("host");
  EXPECT_EQ(host["version"], VMD_VERSION);
  EXPECT_FALSE(host["backends"].empty());
}

}  // namespace
}  // namespace vmd::testing

// vmctl msr get|set|stats against the in-process fake daemon: what reaches
// the server (a policy from --file or a preset name, the request id), exact
// output, exit statuses and messages.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"
#include "tests/client/fake_vmd.h"
#include "tests/client/run_vmctl.h"

namespace vmd::client {
namespace {

using ::vmd::testing::Parse;
using ::vmd::testing::EqualsProto;

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;
using ::vmd::testing::FakeVmd;
using ::vmd::testing::MakeVm;
using ::vmd::testing::VmctlResult;

constexpr char kPolicyJson[] = R"json({
  "defaultAction": "MSR_ACTION_DENY",
  "rules": [
    {"first": 16, "count": 1, "access": "MSR_ACCESS_READ",
     "action": "MSR_ACTION_EMULATE"},
    {"first": 58, "count": 1, "access": "MSR_ACCESS_READ_WRITE",
     "action": "MSR_ACTION_ALLOW"}
  ],
  "handlers": [
    {"index": 16, "read": "READ_SOURCE_CONSTANT", "constant": "4096",
     "write": "WRITE_ACTION_IGNORE"}
  ],
  "logDenials": true
})json";

constexpr char kPolicyText[] = R"pb(
  default_action: MSR_ACTION_DENY
  rules {
    first: 0x10
    count: 1
    access: MSR_ACCESS_READ
    action: MSR_ACTION_EMULATE
  }
  rules {
    first: 0x3a
    count: 1
    access: MSR_ACCESS_READ_WRITE
    action: MSR_ACTION_ALLOW
  }
  handlers {
    index: 0x10
    read: READ_SOURCE_CONSTANT
    constant: 0x1000
    write: WRITE_ACTION_IGNORE
  }
  log_denials: true
)pb";

// kPolicyText as `msr get` prints it.
constexpr char kPolicyTable[] =
    "default action: deny\n"
    "unknown MSRs:   #GP\n"
    "log denials:    yes\n"
    "preset:         -\n"
    "rules:\n"
    "  #   FIRST   LAST   ACCESS       ACTION\n"
    "  0   0x10    0x10   read         emulate\n"
    "  1   0x3a    0x3a   read-write   allow\n"
    "handlers:\n"
    "  MSR    READ              WRITE\n"
    "  0x10   constant 0x1000   ignore\n";

class VmctlMsrTest : public ::testing::Test {
 protected:
  VmctlMsrTest() {
    char dir_template[] = "/tmp/vmctl-msr-test.XXXXXX";
    const char* dir = mkdtemp(dir_template);
    EXPECT_NE(dir, nullptr);
    dir_ = dir == nullptr ? "/nonexistent" : dir;

    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().vms["a"] = MakeVm("a", v1::VM_STATE_RUNNING, absl::Now());
    fake_.state().vms["b"] = MakeVm("b", v1::VM_STATE_STOPPED, absl::Now());
  }
  ~VmctlMsrTest() override {
    for (const std::string& file : files_) unlink(file.c_str());
    rmdir(dir_.c_str());
  }

  VmctlResult Run(const std::vector<std::string>& args,
                  const std::string& stdin_text = "") {
    return ::vmd::testing::RunVmctlForTest(fake_.address(), args, stdin_text);
  }

  // Writes `contents` to `name` in the test's directory; returns the path.
  std::string Write(const std::string& name, const std::string& contents) {
    const std::string path = absl::StrCat(dir_, "/", name);
    FILE* file = fopen(path.c_str(), "w");
    EXPECT_NE(file, nullptr) << path;
    if (file == nullptr) return path;
    fwrite(contents.data(), 1, contents.size(), file);
    fclose(file);
    files_.push_back(path);
    return path;
  }

  std::vector<v1::SetMsrPolicyRequest> SetRequests() {
    absl::MutexLock lock(&fake_.state().mu);
    return fake_.state().set_msr_policy_requests;
  }

  std::string dir_;
  std::vector<std::string> files_;
  FakeVmd fake_;
};

TEST_F(VmctlMsrTest, GetPrintsThePolicy) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_policies["a"] = Parse<v1::MsrPolicy>(kPolicyText);
  }
  VmctlResult r = Run({"msr", "get", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out, kPolicyTable);
}

TEST_F(VmctlMsrTest, GetWithoutAPolicyShowsTheDefault) {
  VmctlResult r = Run({"msr", "get", "b"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "default action: allow\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         -\n"
            "rules: none\n"
            "handlers: none\n");
}

TEST_F(VmctlMsrTest, GetJsonIsTheMsrPolicyAndSetReadsItBack) {
  const v1::MsrPolicy stored = Parse<v1::MsrPolicy>(kPolicyText);
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_policies["a"] = stored;
  }
  VmctlResult r = Run({"msr", "get", "a", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::MsrPolicy policy;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &policy).ok())
      << r.out;
  EXPECT_THAT(policy, EqualsProto(stored)) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\"defaultAction\": \"MSR_ACTION_DENY\""));
  EXPECT_THAT(r.out, HasSubstr("\"constant\": \"4096\""));
  EXPECT_THAT(r.out, HasSubstr("\"preset\": \"\""));

  // What `msr get -o json` prints, `msr set --file -` takes.
  VmctlResult set = Run({"msr", "set", "b", "--file", "-"}, r.out);
  ASSERT_EQ(set.exit_status, 0) << set.err;
  const std::vector<v1::SetMsrPolicyRequest> requests = SetRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].policy(), EqualsProto(stored));
}

TEST_F(VmctlMsrTest, SetFromFileSendsThePolicyAndPrintsTheResponse) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_filter = Parse<v1::MsrFilterSummary>(
        "ranges: 2 bitmap_bytes: 3 default_deny: true exit_reasons: 4");
    fake_.state().msr_warnings = {
        "rules[1] (0x3a READ_WRITE ALLOW) is shadowed entirely by rules[0]; "
        "it never applies",
        "another"};
  }
  const std::string path = Write("policy.json", kPolicyJson);
  VmctlResult r =
      Run({"msr", "set", "a", "--file", path, "--request-id", "req-9"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  // Warnings go to stdout with the rest, as the help says.
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out,
            std::string("warning: rules[1] (0x3a READ_WRITE ALLOW) is "
                        "shadowed entirely by rules[0]; it never applies\n"
                        "warning: another\n"
                        "filter:\n"
                        "  ranges:       2\n"
                        "  bitmap bytes: 3\n"
                        "  default deny: yes\n"
                        "  exit reasons: FILTER\n") +
                kPolicyTable);

  const std::vector<v1::SetMsrPolicyRequest> requests = SetRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].name(), "a");
  EXPECT_EQ(requests[0].request_id(), "req-9");
  ASSERT_EQ(requests[0].source_case(), v1::SetMsrPolicyRequest::kPolicy);
  EXPECT_THAT(requests[0].policy(),
              EqualsProto(Parse<v1::MsrPolicy>(kPolicyText)))
      << requests[0].DebugString();
}

TEST_F(VmctlMsrTest, SetFromStdin) {
  VmctlResult r = Run({"msr", "set", "--file", "-", "a"}, kPolicyJson);
  ASSERT_EQ(r.exit_status, 0) << r.err;
  const std::vector<v1::SetMsrPolicyRequest> requests = SetRequests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_THAT(requests[0].policy(),
              EqualsProto(Parse<v1::MsrPolicy>(kPolicyText)));
  EXPECT_EQ(requests[0].request_id(), "");
}

TEST_F(VmctlMsrTest, SetPresetSendsTheNameAndPrintsTheExpansion) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_presets["strict"] = Parse<v1::MsrPolicy>(R"pb(
      default_action: MSR_ACTION_DENY
      rules {
        first: 0x10
        count: 1
        access: MSR_ACCESS_READ
        action: MSR_ACTION_ALLOW
      }
    )pb");
    fake_.state().msr_filter = Parse<v1::MsrFilterSummary>(
        "ranges: 1 bitmap_bytes: 1 default_deny: true exit_reasons: 4");
  }
  for (const char* preset : {"default", "platform-compat", "strict"}) {
    VmctlResult r = Run({"msr", "set", "a", "--preset", preset});
    ASSERT_EQ(r.exit_status, 0) << preset << ": " << r.err;
  }
  VmctlResult r = Run({"msr", "get", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "default action: deny\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         strict\n"
            "rules:\n"
            "  #   FIRST   LAST   ACCESS   ACTION\n"
            "  0   0x10    0x10   read     allow\n"
            "handlers: none\n");

  r = Run({"msr", "set", "a", "--preset", "strict", "--request-id", "r1"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "filter:\n"
            "  ranges:       1\n"
            "  bitmap bytes: 1\n"
            "  default deny: yes\n"
            "  exit reasons: FILTER\n"
            "default action: deny\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         strict\n"
            "rules:\n"
            "  #   FIRST   LAST   ACCESS   ACTION\n"
            "  0   0x10    0x10   read     allow\n"
            "handlers: none\n");

  const std::vector<v1::SetMsrPolicyRequest> requests = SetRequests();
  ASSERT_EQ(requests.size(), 4u);
  std::vector<std::string> presets;
  for (const v1::SetMsrPolicyRequest& request : requests) {
    EXPECT_EQ(request.source_case(), v1::SetMsrPolicyRequest::kPreset);
    EXPECT_FALSE(request.has_policy());
    presets.push_back(request.preset());
  }
  EXPECT_EQ(absl::StrJoin(presets, ","),
            "default,platform-compat,strict,strict");
  EXPECT_EQ(requests[2].request_id(), "");
  EXPECT_EQ(requests[3].request_id(), "r1");
}

TEST_F(VmctlMsrTest, SetJsonIsTheResponseWithItsWarnings) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_filter = Parse<v1::MsrFilterSummary>(
        "ranges: 1 bitmap_bytes: 1 exit_reasons: 6");
    fake_.state().msr_warnings = {"w1"};
  }
  VmctlResult r = Run({"-o", "json", "msr", "set", "a", "--preset", "default"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  v1::SetMsrPolicyResponse response;
  ASSERT_TRUE(
      google::protobuf::util::JsonStringToMessage(r.out, &response).ok())
      << r.out;
  EXPECT_EQ(response.policy().preset(), "default");
  EXPECT_EQ(response.filter().exit_reasons(), 6u);
  ASSERT_EQ(response.warnings_size(), 1);
  EXPECT_EQ(response.warnings(0), "w1");
  EXPECT_THAT(r.out, HasSubstr("\"warnings\": [\n"));
  EXPECT_THAT(r.out, HasSubstr("\"defaultDeny\": false"));
}

TEST_F(VmctlMsrTest, SetUsageErrorsExitTwoAndSendNothing) {
  const std::string good = Write("good.json", kPolicyJson);
  const std::string bad = Write("bad.json", "{\"rules\": [}");
  const std::string unknown =
      Write("unknown.json", R"({"defaultAction": "MSR_ACTION_DENY", "x": 1})");
  const std::string empty = Write("empty.json", "\n");
  const std::vector<std::vector<std::string>> cases = {
      {"msr", "set", "a"},
      {"msr", "set", "a", "--request-id", "r"},
      {"msr", "set", "a", "--file", good, "--preset", "strict"},
      {"msr", "set", "a", "--preset", "strict", "--file", bad},
      {"msr", "set", "a", "--preset", "lax"},
      {"msr", "set", "a", "--preset", "strict", "--preset", "default"},
      {"msr", "set", "a", "--file"},
      {"msr", "set", "a", "--file", absl::StrCat(dir_, "/missing.json")},
      {"msr", "set", "a", "--file", dir_},
      {"msr", "set", "a", "--file", bad},
      {"msr", "set", "a", "--file", unknown},
      {"msr", "set", "a", "--file", empty},
      {"msr", "set", "a", "--file", "-"},  // Empty stdin.
      {"msr", "set", "--preset", "strict"},
      {"msr", "get"},
      {"msr", "stats"},
      {"msr", "get", "a", "b"},
      {"msr"},
      {"msr", "frob", "a"},
  };
  for (const auto& args : cases) {
    VmctlResult r = Run(args);
    ::vmd::testing::ExpectUsageError(r, absl::StrJoin(args, " "));
  }
  EXPECT_THAT(SetRequests(), IsEmpty());
  absl::MutexLock lock(&fake_.state().mu);
  EXPECT_EQ(fake_.state().get_msr_policy_calls, 0);
  EXPECT_EQ(fake_.state().get_msr_stats_calls, 0);
}

TEST_F(VmctlMsrTest, SetUsageErrorsSayWhatIsWrong) {
  const std::string good = Write("good.json", kPolicyJson);
  const std::string bad = Write("bad.json", "{\"rules\": [}\n");
  const std::string unknown =
      Write("unknown.json", R"({"rules": [{"first": 16, "cuont": 1}]})");
  EXPECT_EQ(Run({"msr", "set", "a"}).err,
            "vmctl: msr set needs the policy: --file FILE or --preset NAME\n");
  EXPECT_EQ(Run({"msr", "set", "a", "--file", good, "--preset", "strict"}).err,
            "vmctl: --file and --preset exclude each other; give one\n");
  EXPECT_EQ(Run({"msr", "set", "a", "--preset", "lax"}).err,
            "vmctl: --preset: lax not in {default,strict,platform-compat}\n");
  EXPECT_EQ(Run({"msr", "set", "a", "--file", bad}).err,
            absl::StrCat("vmctl: --file ", bad,
                         ": not an MsrPolicy in canonical JSON: Unexpected "
                         "token. near \"}\\n\"\n"));
  EXPECT_EQ(Run({"msr", "set", "a", "--file", unknown}).err,
            absl::StrCat("vmctl: --file ", unknown,
                         ": not an MsrPolicy in canonical JSON: "
                         "(rules[0]) cuont: Cannot find field.\n"));
  EXPECT_EQ(
      Run({"msr", "set", "a", "--file", absl::StrCat(dir_, "/nope.json")}).err,
      absl::StrCat("vmctl: --file ", dir_,
                   "/nope.json: cannot read: No such file or directory\n"));
  EXPECT_EQ(Run({"msr", "set", "a", "--file", "-"}, "[1, 2]").err,
            "vmctl: --file - (stdin): not an MsrPolicy in canonical JSON: : "
            "Root element must be a message.\n");
  EXPECT_EQ(Run({"msr", "set", "a", "--file", "-"}).err,
            "vmctl: --file - (stdin): empty; want an MsrPolicy in JSON\n");
}

TEST_F(VmctlMsrTest, ServerErrorsExitOneWithOneLine) {
  const std::string zero_count =
      Write("zero.json",
            R"({"rules": [{"first": 16, "count": 0, "access": "MSR_ACCESS_READ",
                     "action": "MSR_ACTION_DENY"}]})");
  VmctlResult r = Run({"msr", "set", "a", "--file", zero_count});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err,
            "vmctl: INVALID_ARGUMENT: rules[0].count: must be at least 1\n");

  r = Run({"msr", "set", "nope", "--preset", "strict"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"nope\" not found\n");

  r = Run({"msr", "get", "nope", "-o", "json"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err, "vmctl: NOT_FOUND: vm \"nope\" not found\n");

  r = Run({"msr", "stats", "b"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.out, IsEmpty());
  EXPECT_EQ(r.err,
            "vmctl: FAILED_PRECONDITION: vm \"b\" is stopped; MSR stats need "
            "state running\n");
  EXPECT_EQ(SetRequests().size(), 2u);
}

TEST_F(VmctlMsrTest, StatsPrintsSortedCountersAndDenialEvents) {
  {
    absl::MutexLock lock(&fake_.state().mu);
    fake_.state().msr_stats["a"] = Parse<v1::MsrStats>(R"pb(
      counters {
        index: 0x3a
        access: MSR_ACCESS_WRITE
        outcome: MSR_OUTCOME_DENIED
        count: 4
      }
      counters {
        index: 0x10
        access: MSR_ACCESS_WRITE
        outcome: MSR_OUTCOME_UNHANDLED
        count: 1
      }
      counters {
        index: 0x3a
        access: MSR_ACCESS_READ
        outcome: MSR_OUTCOME_DENIED
        count: 12
      }
      counters {
        index: 0x10
        access: MSR_ACCESS_READ
        outcome: MSR_OUTCOME_EMULATED
        count: 1000
      }
      denial_events: 10
      denial_events_suppressed: 6
    )pb");
  }
  VmctlResult r = Run({"msr", "stats", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_THAT(r.err, IsEmpty());
  EXPECT_EQ(r.out,
            "MSR    ACCESS   OUTCOME     COUNT\n"
            "0x10   read     emulated    1000\n"
            "0x10   write    unhandled   1\n"
            "0x3a   read     denied      12\n"
            "0x3a   write    denied      4\n"
            "denial events: 10 (suppressed 6)\n");

  r = Run({"msr", "stats", "a", "-o", "json"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  v1::MsrStats stats;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &stats).ok())
      << r.out;
  EXPECT_EQ(stats.counters_size(), 4);
  EXPECT_EQ(stats.denial_events_suppressed(), 6u);
  EXPECT_THAT(r.out, HasSubstr("\"denialEvents\": \"10\""));
  EXPECT_THAT(r.out, HasSubstr("\"outcome\": \"MSR_OUTCOME_DENIED\""));
}

TEST_F(VmctlMsrTest, StatsOfAVmWithoutTraps) {
  VmctlResult r = Run({"msr", "stats", "a"});
  ASSERT_EQ(r.exit_status, 0) << r.err;
  EXPECT_EQ(r.out,
            "MSR   ACCESS   OUTCOME   COUNT\n"
            "denial events: 0 (suppressed 0)\n");
}

TEST_F(VmctlMsrTest, Help) {
  VmctlResult r = Run({"--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("\n  msr "));

  r = Run({"msr", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.err, IsEmpty());
  for (const char* text : {"\n  get ", "\n  set ", "\n  stats "}) {
    EXPECT_THAT(r.out, HasSubstr(text));
  }

  r = Run({"msr", "set", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  for (const char* text :
       {"--file FILE", "- reads stdin", "--preset NAME",
        "{default,strict,platform-compat}", "--request-id",
        "exactly one of --file and --preset", "canonical JSON",
        "on stdout like the rest", "\"warnings\""}) {
    EXPECT_THAT(r.out, HasSubstr(text));
  }

  r = Run({"msr", "stats", "--help"});
  EXPECT_EQ(r.exit_status, 0);
  EXPECT_THAT(r.out, HasSubstr("denied"));
}

}  // namespace
}  // namespace vmd::client

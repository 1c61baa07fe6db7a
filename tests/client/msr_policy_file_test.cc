#include "client/msr_policy_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"

namespace vmd::client {
namespace {

using ::vmd::testing::EqualsProto;

v1::MsrPolicy Policy(const std::string& text) {
  v1::MsrPolicy policy;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &policy))
      << text;
  return policy;
}

// ParseMsrPolicyJson's error message; "" (with a test failure) when it
// parsed.
std::string Error(const std::string& json) {
  absl::StatusOr<v1::MsrPolicy> policy = ParseMsrPolicyJson(json);
  EXPECT_FALSE(policy.ok()) << json;
  if (policy.ok()) return "";
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(policy.status().message());
}

constexpr char kFullPolicyJson[] = R"json({
  "defaultAction": "MSR_ACTION_DENY",
  "rules": [
    {"first": 16, "count": 1, "access": "MSR_ACCESS_READ",
     "action": "MSR_ACTION_EMULATE"},
    {"first": 58, "count": 2, "access": "MSR_ACCESS_READ_WRITE",
     "action": "MSR_ACTION_ALLOW"}
  ],
  "handlers": [
    {"index": 16, "read": "READ_SOURCE_CONSTANT", "constant": "4096",
     "write": "WRITE_ACTION_IGNORE"},
    {"index": 53, "read": "READ_SOURCE_TOPOLOGY", "write": "WRITE_ACTION_GP"}
  ],
  "unknownMsrs": "UNKNOWN_MSR_ACTION_EMULATE",
  "logDenials": true,
  "preset": "mine"
}
)json";

constexpr char kFullPolicyText[] = R"pb(
  default_action: MSR_ACTION_DENY
  rules {
    first: 0x10
    count: 1
    access: MSR_ACCESS_READ
    action: MSR_ACTION_EMULATE
  }
  rules {
    first: 0x3a
    count: 2
    access: MSR_ACCESS_READ_WRITE
    action: MSR_ACTION_ALLOW
  }
  handlers {
    index: 0x10
    read: READ_SOURCE_CONSTANT
    constant: 4096
    write: WRITE_ACTION_IGNORE
  }
  handlers { index: 0x35 read: READ_SOURCE_TOPOLOGY write: WRITE_ACTION_GP }
  unknown_msrs: UNKNOWN_MSR_ACTION_EMULATE
  log_denials: true
  preset: "mine"
)pb";

TEST(ParseMsrPolicyJsonTest, ReadsEveryField) {
  absl::StatusOr<v1::MsrPolicy> policy = ParseMsrPolicyJson(kFullPolicyJson);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(*policy, EqualsProto(Policy(kFullPolicyText)))
      << policy->DebugString();
}

TEST(ParseMsrPolicyJsonTest, TakesProtoNamesEnumNumbersAndNumericUint64) {
  absl::StatusOr<v1::MsrPolicy> policy = ParseMsrPolicyJson(
      R"({"default_action": 2, "handlers": [{"index": 16, "read": 1,
          "constant": 18446744073709551615, "write": "WRITE_ACTION_STORE"}]})");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(*policy, EqualsProto(Policy(R"pb(
    default_action: MSR_ACTION_DENY
    handlers {
      index: 16
      read: READ_SOURCE_CONSTANT
      constant: 0xffffffffffffffff
      write: WRITE_ACTION_STORE
    }
  )pb")));
}

TEST(ParseMsrPolicyJsonTest, EmptyObjectIsTheEmptyPolicy) {
  absl::StatusOr<v1::MsrPolicy> policy = ParseMsrPolicyJson(" {}\n");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(*policy, EqualsProto(v1::MsrPolicy()));
}

TEST(ParseMsrPolicyJsonTest, BadJsonIsOneLineQuotingTheInputNearTheError) {
  // The parser puts the input around the error (from 20 characters before
  // it) and a caret on further lines.
  EXPECT_EQ(Error(R"({"logDenials": tru})"),
            "not an MsrPolicy in canonical JSON: Unexpected token. near "
            "\"tru}\"");
  EXPECT_EQ(Error("{\"logDenials\": true,\n\"preset\" \"x\"}"),
            "not an MsrPolicy in canonical JSON: Expected : between key:value "
            "pair. near \"ls\\\": true,\\n\\\"preset\\\" \\\"x\\\"}\"");
  EXPECT_EQ(Error("{} {}"),
            "not an MsrPolicy in canonical JSON: Parsing terminated before "
            "end of input. near \"{} {}\"");
  // Nothing to quote at the end of the input.
  EXPECT_EQ(Error(R"({"defaultAction": "MSR_ACTION_DENY",)"),
            "not an MsrPolicy in canonical JSON: Unexpected end of string. "
            "Expected an object key or }.");
  EXPECT_EQ(Error("[]"),
            "not an MsrPolicy in canonical JSON: : Root element must be a "
            "message.");
}

TEST(ParseMsrPolicyJsonTest, UnknownFieldsAreErrors) {
  EXPECT_EQ(Error(R"({"defaultAction": "MSR_ACTION_DENY", "rulez": []})"),
            "not an MsrPolicy in canonical JSON: rulez: Cannot find field.");
  // A SetMsrPolicyRequest is not a policy.
  EXPECT_EQ(Error(R"({"policy": {"defaultAction": "MSR_ACTION_DENY"}})"),
            "not an MsrPolicy in canonical JSON: policy: Cannot find field.");
  EXPECT_EQ(Error(R"({"rules": [{"first": 16, "cuont": 1}]})"),
            "not an MsrPolicy in canonical JSON: (rules[0]) cuont: Cannot "
            "find field.");
}

TEST(ParseMsrPolicyJsonTest, BadValuesNameTheField) {
  EXPECT_EQ(Error(R"({"defaultAction": "MSR_ACTION_BLOCK"})"),
            "not an MsrPolicy in canonical JSON: (default_action): invalid "
            "value \"MSR_ACTION_BLOCK\" for type "
            "type.googleapis.com/vmd.v1.MsrAction");
  // JSON has no hex numbers.
  EXPECT_EQ(Error(R"({"rules": [{"first": "0x10"}]})"),
            "not an MsrPolicy in canonical JSON: (rules[0].first): invalid "
            "value \"0x10\" for type TYPE_UINT32");
  EXPECT_EQ(Error(R"({"rules": [{"first": -1}]})"),
            "not an MsrPolicy in canonical JSON: (rules[0].first): invalid "
            "value -1 for type TYPE_UINT32");
}

TEST(ParseMsrPolicyJsonTest, EmptyInputIsAnError) {
  EXPECT_EQ(Error(""), "empty; want an MsrPolicy in JSON");
  EXPECT_EQ(Error(" \n\t\n"), "empty; want an MsrPolicy in JSON");
}

class LoadMsrPolicyFileTest : public ::testing::Test {
 protected:
  LoadMsrPolicyFileTest() {
    char dir_template[] = "/tmp/vmd-msr-policy-test.XXXXXX";
    const char* dir = mkdtemp(dir_template);
    EXPECT_NE(dir, nullptr);
    dir_ = dir == nullptr ? "/nonexistent" : dir;
  }
  ~LoadMsrPolicyFileTest() override {
    for (const std::string& file : files_) unlink(file.c_str());
    rmdir(dir_.c_str());
  }

  // Writes `contents` to a file `name` in the test's directory.
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

  std::string dir_;
  std::vector<std::string> files_;
  std::istringstream no_stdin_;
};

TEST_F(LoadMsrPolicyFileTest, ReadsTheFile) {
  const std::string path = Write("policy.json", kFullPolicyJson);
  absl::StatusOr<v1::MsrPolicy> policy = LoadMsrPolicyFile(path, no_stdin_);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(*policy, EqualsProto(Policy(kFullPolicyText)));
}

TEST_F(LoadMsrPolicyFileTest, DashReadsStdin) {
  std::istringstream in(kFullPolicyJson);
  absl::StatusOr<v1::MsrPolicy> policy = LoadMsrPolicyFile("-", in);
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_THAT(*policy, EqualsProto(Policy(kFullPolicyText)));
}

TEST_F(LoadMsrPolicyFileTest, ErrorsNameTheFlagAndTheFile) {
  const std::string missing = absl::StrCat(dir_, "/missing.json");
  absl::StatusOr<v1::MsrPolicy> policy = LoadMsrPolicyFile(missing, no_stdin_);
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(policy.status().message(),
            absl::StrCat("--file ", missing,
                         ": cannot read: No such file or directory"));

  EXPECT_EQ(LoadMsrPolicyFile(dir_, no_stdin_).status().message(),
            absl::StrCat("--file ", dir_, ": cannot read: Is a directory"));

  const std::string bad = Write("bad.json", "{\"defaultAction\": }\n");
  EXPECT_EQ(LoadMsrPolicyFile(bad, no_stdin_).status().message(),
            absl::StrCat("--file ", bad,
                         ": not an MsrPolicy in canonical JSON: Unexpected "
                         "token. near \"}\\n\""));

  const std::string unknown = Write("unknown.json", R"({"logDenial": true})");
  EXPECT_EQ(LoadMsrPolicyFile(unknown, no_stdin_).status().message(),
            absl::StrCat("--file ", unknown,
                         ": not an MsrPolicy in canonical JSON: logDenial: "
                         "Cannot find field."));

  const std::string empty = Write("empty.json", "");
  EXPECT_EQ(
      LoadMsrPolicyFile(empty, no_stdin_).status().message(),
      absl::StrCat("--file ", empty, ": empty; want an MsrPolicy in JSON"));

  std::istringstream in("{\"rules\": [{\"first\": 1.5}]}");
  EXPECT_EQ(LoadMsrPolicyFile("-", in).status().message(),
            "--file - (stdin): not an MsrPolicy in canonical JSON: "
            "(rules[0].first): invalid value 1.5 for type TYPE_UINT32");
}

}  // namespace
}  // namespace vmd::client

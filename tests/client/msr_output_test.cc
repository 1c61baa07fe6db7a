#include "client/msr_output.h"

#include <string>

#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/client/proto_test_util.h"

namespace vmd::client {
namespace {

using ::vmd::testing::Parse;

v1::MsrHandler Handler(const std::string& text) {
  return Parse<v1::MsrHandler>(text);
}

TEST(MsrNamesTest, EnumsAreLowerCaseWithoutPrefix) {
  EXPECT_EQ(MsrHex(0), "0x0");
  EXPECT_EQ(MsrHex(0xc0000080), "0xc0000080");
  EXPECT_EQ(MsrActionName(v1::MSR_ACTION_ALLOW), "allow");
  EXPECT_EQ(MsrActionName(v1::MSR_ACTION_DENY), "deny");
  EXPECT_EQ(MsrActionName(v1::MSR_ACTION_EMULATE), "emulate");
  EXPECT_EQ(MsrActionName(v1::MSR_ACTION_UNSPECIFIED), "unspecified");
  EXPECT_EQ(MsrActionName(static_cast<v1::MsrAction>(9)), "action-9");
  EXPECT_EQ(MsrAccessName(v1::MSR_ACCESS_READ), "read");
  EXPECT_EQ(MsrAccessName(v1::MSR_ACCESS_WRITE), "write");
  EXPECT_EQ(MsrAccessName(v1::MSR_ACCESS_READ_WRITE), "read-write");
  EXPECT_EQ(MsrAccessName(static_cast<v1::MsrAccess>(7)), "access-7");
  EXPECT_EQ(MsrOutcomeName(v1::MSR_OUTCOME_DENIED), "denied");
  EXPECT_EQ(MsrOutcomeName(v1::MSR_OUTCOME_EMULATED), "emulated");
  EXPECT_EQ(MsrOutcomeName(v1::MSR_OUTCOME_UNHANDLED), "unhandled");
  EXPECT_EQ(MsrOutcomeName(static_cast<v1::MsrOutcome>(8)), "outcome-8");
  EXPECT_EQ(UnknownMsrActionName(v1::UNKNOWN_MSR_ACTION_GP), "#GP");
  EXPECT_EQ(UnknownMsrActionName(v1::UNKNOWN_MSR_ACTION_EMULATE), "emulate");
  EXPECT_EQ(UnknownMsrActionName(static_cast<v1::UnknownMsrAction>(5)),
            "unknown-msrs-5");
}

TEST(MsrHandlerTest, ReadSources) {
  EXPECT_EQ(
      FormatMsrHandlerRead(Handler("read: READ_SOURCE_CONSTANT constant: 16")),
      "constant 0x10");
  EXPECT_EQ(FormatMsrHandlerRead(Handler("read: READ_SOURCE_CONSTANT")),
            "constant 0x0");
  EXPECT_EQ(
      FormatMsrHandlerRead(Handler("read: READ_SOURCE_TOPOLOGY constant: 16")),
      "topology");
  EXPECT_EQ(FormatMsrHandlerRead(Handler("read: READ_SOURCE_LAST_WRITTEN")),
            "last written (initial 0x0)");
  EXPECT_EQ(FormatMsrHandlerRead(Handler(
                "read: READ_SOURCE_LAST_WRITTEN constant: 0xffffffffffffffff")),
            "last written (initial 0xffffffffffffffff)");
  EXPECT_EQ(FormatMsrHandlerRead(Handler("read: READ_SOURCE_GP")), "#GP");
  EXPECT_EQ(FormatMsrHandlerRead(Handler("")), "unspecified");
  EXPECT_EQ(FormatMsrHandlerRead(Handler("read: 12")), "read-12");
}

TEST(MsrHandlerTest, WriteActions) {
  EXPECT_EQ(FormatMsrHandlerWrite(Handler("write: WRITE_ACTION_IGNORE")),
            "ignore");
  EXPECT_EQ(FormatMsrHandlerWrite(Handler("write: WRITE_ACTION_STORE")),
            "store");
  EXPECT_EQ(FormatMsrHandlerWrite(Handler("write: WRITE_ACTION_GP")), "#GP");
  EXPECT_EQ(FormatMsrHandlerWrite(Handler("")), "unspecified");
  EXPECT_EQ(FormatMsrHandlerWrite(Handler("write: 6")), "write-6");
}

TEST(MsrExitReasonsTest, NamesTheBits) {
  EXPECT_EQ(FormatMsrExitReasons(0), "none");
  EXPECT_EQ(FormatMsrExitReasons(1), "INVAL");
  EXPECT_EQ(FormatMsrExitReasons(2), "UNKNOWN");
  EXPECT_EQ(FormatMsrExitReasons(4), "FILTER");
  EXPECT_EQ(FormatMsrExitReasons(6), "FILTER|UNKNOWN");
  EXPECT_EQ(FormatMsrExitReasons(7), "FILTER|UNKNOWN|INVAL");
  EXPECT_EQ(FormatMsrExitReasons(4 | 8 | 0x100), "FILTER|0x108");
  EXPECT_EQ(FormatMsrExitReasons(8), "0x8");
}

constexpr char kPolicy[] = R"pb(
  default_action: MSR_ACTION_DENY
  rules {
    first: 0x10
    count: 1
    access: MSR_ACCESS_READ
    action: MSR_ACTION_EMULATE
  }
  rules {
    first: 0xc0000080
    count: 0x100
    access: MSR_ACCESS_READ_WRITE
    action: MSR_ACTION_ALLOW
  }
  rules { first: 0x3a count: 0 access: MSR_ACCESS_WRITE action: 0 }
  handlers {
    index: 0x10
    read: READ_SOURCE_CONSTANT
    constant: 0x10
    write: WRITE_ACTION_IGNORE
  }
  handlers { index: 0x35 read: READ_SOURCE_TOPOLOGY write: WRITE_ACTION_GP }
  handlers {
    index: 0x4b564d00
    read: READ_SOURCE_LAST_WRITTEN
    write: WRITE_ACTION_STORE
  }
  handlers { index: 0x1a0 read: READ_SOURCE_GP write: WRITE_ACTION_GP }
  unknown_msrs: UNKNOWN_MSR_ACTION_EMULATE
  log_denials: true
  preset: "strict"
)pb";

constexpr char kRenderedPolicy[] =
    "default action: deny\n"
    "unknown MSRs:   emulate\n"
    "log denials:    yes\n"
    "preset:         strict\n"
    "rules:\n"
    "  #   FIRST        LAST         ACCESS       ACTION\n"
    "  0   0x10         0x10         read         emulate\n"
    "  1   0xc0000080   0xc000017f   read-write   allow\n"
    "  2   0x3a         -            write        unspecified\n"
    "handlers:\n"
    "  MSR          READ                         WRITE\n"
    "  0x10         constant 0x10                ignore\n"
    "  0x35         topology                     #GP\n"
    "  0x4b564d00   last written (initial 0x0)   store\n"
    "  0x1a0        #GP                          #GP\n";

TEST(RenderMsrPolicyTest, SettingsThenRulesAndHandlersInPolicyOrder) {
  EXPECT_EQ(RenderMsrPolicy(Parse<v1::MsrPolicy>(kPolicy)), kRenderedPolicy);
}

TEST(RenderMsrPolicyTest, EmptyPolicyAllowsEverything) {
  EXPECT_EQ(RenderMsrPolicy(v1::MsrPolicy()),
            "default action: allow\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         -\n"
            "rules: none\n"
            "handlers: none\n");
}

TEST(RenderMsrPolicyTest, RuleReachingTheLastMsr) {
  EXPECT_EQ(RenderMsrPolicy(Parse<v1::MsrPolicy>(R"pb(
              default_action: MSR_ACTION_ALLOW
              rules {
                first: 0xffffff00
                count: 0x100
                access: MSR_ACCESS_WRITE
                action: MSR_ACTION_DENY
              }
            )pb")),
            "default action: allow\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         -\n"
            "rules:\n"
            "  #   FIRST        LAST         ACCESS   ACTION\n"
            "  0   0xffffff00   0xffffffff   write    deny\n"
            "handlers: none\n");
}

TEST(RenderSetMsrPolicyResponseTest, WarningsFilterThenPolicy) {
  v1::SetMsrPolicyResponse response;
  *response.mutable_policy() = Parse<v1::MsrPolicy>(kPolicy);
  response.mutable_filter()->set_ranges(3);
  response.mutable_filter()->set_bitmap_bytes(96);
  response.mutable_filter()->set_default_deny(true);
  response.mutable_filter()->set_exit_reasons(6);
  response.add_warnings(
      "rules[2] (0x10 READ DENY) is shadowed entirely by rules[0]; it never "
      "applies");
  response.add_warnings("second");
  EXPECT_EQ(
      RenderSetMsrPolicyResponse(response),
      std::string("warning: rules[2] (0x10 READ DENY) is shadowed entirely by "
                  "rules[0]; it never applies\n"
                  "warning: second\n"
                  "filter:\n"
                  "  ranges:       3\n"
                  "  bitmap bytes: 96\n"
                  "  default deny: yes\n"
                  "  exit reasons: FILTER|UNKNOWN\n") +
          kRenderedPolicy);
}

TEST(RenderSetMsrPolicyResponseTest, NoWarnings) {
  EXPECT_EQ(RenderSetMsrPolicyResponse(v1::SetMsrPolicyResponse()),
            "filter:\n"
            "  ranges:       0\n"
            "  bitmap bytes: 0\n"
            "  default deny: no\n"
            "  exit reasons: none\n"
            "default action: allow\n"
            "unknown MSRs:   #GP\n"
            "log denials:    no\n"
            "preset:         -\n"
            "rules: none\n"
            "handlers: none\n");
}

TEST(RenderMsrStatsTest, SortedByMsrThenAccessThenOutcome) {
  EXPECT_EQ(RenderMsrStats(Parse<v1::MsrStats>(R"pb(
              counters {
                index: 0x4b564d00
                access: MSR_ACCESS_READ
                outcome: MSR_OUTCOME_UNHANDLED
                count: 1
              }
              counters {
                index: 0x10
                access: MSR_ACCESS_WRITE
                outcome: MSR_OUTCOME_DENIED
                count: 3
              }
              counters {
                index: 0x10
                access: MSR_ACCESS_READ
                outcome: MSR_OUTCOME_UNHANDLED
                count: 2
              }
              counters {
                index: 0x10
                access: MSR_ACCESS_READ
                outcome: MSR_OUTCOME_EMULATED
                count: 18446744073709551615
              }
              counters {
                index: 0x3a
                access: MSR_ACCESS_WRITE
                outcome: MSR_OUTCOME_DENIED
                count: 0
              }
              denial_events: 3
              denial_events_suppressed: 1
            )pb")),
            "MSR          ACCESS   OUTCOME     COUNT\n"
            "0x10         read     emulated    18446744073709551615\n"
            "0x10         read     unhandled   2\n"
            "0x10         write    denied      3\n"
            "0x3a         write    denied      0\n"
            "0x4b564d00   read     unhandled   1\n"
            "denial events: 3 (suppressed 1)\n");
}

TEST(RenderMsrStatsTest, NoCounters) {
  EXPECT_EQ(RenderMsrStats(v1::MsrStats()),
            "MSR   ACCESS   OUTCOME   COUNT\n"
            "denial events: 0 (suppressed 0)\n");
}

}  // namespace
}  // namespace vmd::client

// Protobuf helpers shared by the client tests.
#ifndef VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_
#define VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_

#include <concepts>
#include <ostream>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace vmd::testing {

// A message from its text format; a parse error fails the test.
template <typename Message>
Message Parse(const std::string& text) {
  Message message;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &message)) << text;
  return message;
}

MATCHER_P(EqualsProto, expected, "") { return google::protobuf::util::MessageDifferencer::Equals(arg, expected); }

}  // namespace vmd::testing

namespace vmd::v1 {

// How gtest prints the API's messages (in failure messages and matcher
// descriptions): found by ADL and, being more constrained, chosen over
// gtest's generic PrintTo. It replaces gtest's ProtobufPrinter, whose
// `"\n" + value.DebugString()` GCC 12 reports at -O3 as a bogus -Wrestrict
// on the inlined std::string insert (GCC PR 105651), fatal under -Werror.
template <typename Message>
  requires std::derived_from<Message, google::protobuf::Message>
void PrintTo(const Message& message, std::ostream* os) {
  *os << "<" << message.ShortDebugString() << ">";
}

}  // namespace vmd::v1

#endif  // VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_

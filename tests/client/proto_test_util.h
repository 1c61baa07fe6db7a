// Protobuf helpers shared by the client tests.
#ifndef VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_
#define VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_

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

#endif  // VMD_TESTS_CLIENT_PROTO_TEST_UTIL_H_

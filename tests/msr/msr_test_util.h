// Helpers for building MSR policies in tests.
#ifndef VMD_TESTS_MSR_MSR_TEST_UTIL_H_
#define VMD_TESTS_MSR_MSR_TEST_UTIL_H_

#include <cstdint>

#include "vmd/v1/msr.pb.h"

namespace vmd::msr::msr_test {

inline constexpr v1::MsrAccess kRead = v1::MSR_ACCESS_READ;
inline constexpr v1::MsrAccess kWrite = v1::MSR_ACCESS_WRITE;
inline constexpr v1::MsrAccess kReadWrite = v1::MSR_ACCESS_READ_WRITE;
inline constexpr v1::MsrAction kAllow = v1::MSR_ACTION_ALLOW;
inline constexpr v1::MsrAction kDeny = v1::MSR_ACTION_DENY;
inline constexpr v1::MsrAction kEmulate = v1::MSR_ACTION_EMULATE;

inline v1::MsrRule* AddRule(v1::MsrPolicy& policy, uint32_t first, uint32_t count, v1::MsrAccess access,
                            v1::MsrAction action) {
  v1::MsrRule* rule = policy.add_rules();
  rule->set_first(first);
  rule->set_count(count);
  rule->set_access(access);
  rule->set_action(action);
  return rule;
}

inline v1::MsrHandler* AddHandler(v1::MsrPolicy& policy, uint32_t index,
                                  v1::MsrHandler::ReadSource read = v1::MsrHandler::READ_SOURCE_CONSTANT,
                                  v1::MsrHandler::WriteAction write = v1::MsrHandler::WRITE_ACTION_IGNORE,
                                  uint64_t constant = 0) {
  v1::MsrHandler* handler = policy.add_handlers();
  handler->set_index(index);
  handler->set_read(read);
  handler->set_write(write);
  handler->set_constant(constant);
  return handler;
}

}  // namespace vmd::msr::msr_test

#endif  // VMD_TESTS_MSR_MSR_TEST_UTIL_H_

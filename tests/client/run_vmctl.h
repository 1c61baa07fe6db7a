// Runs vmctl in-process (RunVmctl) for tests, capturing its output.
#ifndef VMD_TESTS_CLIENT_RUN_VMCTL_H_
#define VMD_TESTS_CLIENT_RUN_VMCTL_H_

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "client/vmctl_app.h"
#include "gtest/gtest.h"

namespace vmd::testing {

struct VmctlResult {
  int exit_status;
  std::string out;
  std::string err;
};

// Runs `vmctl [--address <address>] <args...>`; no --address when `address`
// is empty. `stdin_text` is vmctl's standard input.
inline VmctlResult RunVmctlForTest(const std::string& address,
                                   const std::vector<std::string>& args,
                                   const std::string& stdin_text = "") {
  std::vector<std::string> argv = {"vmctl"};
  if (!address.empty()) {
    argv.push_back("--address");
    argv.push_back(address);
  }
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<const char*> pointers;
  for (const std::string& arg : argv) pointers.push_back(arg.c_str());
  std::istringstream in(stdin_text);
  std::ostringstream out, err;
  const int status = client::RunVmctl(static_cast<int>(pointers.size()),
                                      pointers.data(), in, out, err);
  return {status, out.str(), err.str()};
}

// A usage error: exit status 2, one `vmctl: ...` line on stderr, nothing on
// stdout. `context` names the case in failure messages.
inline void ExpectUsageError(const VmctlResult& r, const std::string& context) {
  EXPECT_EQ(r.exit_status, 2) << context;
  EXPECT_EQ(r.err.rfind("vmctl: ", 0), 0u) << context << ": " << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << context << ": " << r.err;
  EXPECT_TRUE(r.out.empty()) << context << ": " << r.out;
}

}  // namespace vmd::testing

#endif  // VMD_TESTS_CLIENT_RUN_VMCTL_H_

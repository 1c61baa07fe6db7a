// Runs vmctl in-process (RunVmctl) for tests, capturing its output.
#ifndef VMD_TESTS_CLIENT_RUN_VMCTL_H_
#define VMD_TESTS_CLIENT_RUN_VMCTL_H_

#include <sstream>
#include <string>
#include <vector>

#include "client/vmctl_app.h"

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

}  // namespace vmd::testing

#endif  // VMD_TESTS_CLIENT_RUN_VMCTL_H_

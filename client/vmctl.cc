// vmctl: the command line for vmd. See vmctl_app.h and `vmctl --help`.
#include <iostream>

#include "client/interrupt.h"
#include "client/vmctl_app.h"

int main(int argc, char** argv) {
  // Before any thread exists, so that every thread inherits the signal mask.
  vmd::client::InstallInterruptHandler();
  return vmd::client::RunVmctl(argc, argv, std::cin, std::cout, std::cerr);
}

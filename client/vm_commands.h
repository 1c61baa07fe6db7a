// vmctl's commands of vmd.v1.VmService: create, get, list, start, pause,
// resume, stop, delete, events and console.
#ifndef VMD_CLIENT_VM_COMMANDS_H_
#define VMD_CLIENT_VM_COMMANDS_H_

#include <vector>

#include "CLI/CLI.hpp"
#include "client/command.h"

namespace vmd::client {

// Adds the VM subcommands to `app`, in the order `vmctl --help` lists them,
// and one Command per subcommand to `commands`.
void AddVmCommands(CLI::App& app, std::vector<Command>& commands);

}  // namespace vmd::client

#endif  // VMD_CLIENT_VM_COMMANDS_H_

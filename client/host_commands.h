// vmctl's command of vmd.v1.HostService: host.
#ifndef VMD_CLIENT_HOST_COMMANDS_H_
#define VMD_CLIENT_HOST_COMMANDS_H_

#include <vector>

#include "CLI/CLI.hpp"
#include "client/command.h"

namespace vmd::client {

// Adds `host` to `app` and its Command to `commands`.
void AddHostCommands(CLI::App& app, std::vector<Command>& commands);

}  // namespace vmd::client

#endif  // VMD_CLIENT_HOST_COMMANDS_H_

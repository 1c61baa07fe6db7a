// vmctl's commands of vmd.v1.MsrService: msr get, msr set and msr stats.
#ifndef VMD_CLIENT_MSR_COMMANDS_H_
#define VMD_CLIENT_MSR_COMMANDS_H_

#include <istream>
#include <vector>

#include "CLI/CLI.hpp"
#include "client/command.h"

namespace vmd::client {

// Adds `msr` with its subcommands to `app` and one Command per subcommand
// to `commands`. `in` (read by `msr set --file -`) must outlive them.
void AddMsrCommands(CLI::App& app, std::istream& in,
                    std::vector<Command>& commands);

}  // namespace vmd::client

#endif  // VMD_CLIENT_MSR_COMMANDS_H_

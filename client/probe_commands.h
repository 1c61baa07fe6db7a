// vmctl's commands of vmd.v1.ProbeService: probe (guest ops, flags parsed by
// probe_args.h) and bench (guest micro-benchmarks).
#ifndef VMD_CLIENT_PROBE_COMMANDS_H_
#define VMD_CLIENT_PROBE_COMMANDS_H_

#include <vector>

#include "CLI/CLI.hpp"
#include "client/command.h"

namespace vmd::client {

// Adds `probe` and `bench` to `app` and their Commands to `commands`.
void AddProbeCommands(CLI::App& app, std::vector<Command>& commands);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PROBE_COMMANDS_H_

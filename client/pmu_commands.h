// vmctl's commands of vmd.v1.PmuService and the PMU views: pmu negotiate
// (a dry run), pmu get (a VM's grant) and pmu host (this host's PMU).
#ifndef VMD_CLIENT_PMU_COMMANDS_H_
#define VMD_CLIENT_PMU_COMMANDS_H_

#include <vector>

#include "CLI/CLI.hpp"
#include "client/command.h"

namespace vmd::client {

void AddPmuCommands(CLI::App& app, std::vector<Command>& commands);

// `--pmu SPEC` and `--cpu-vendor V` of `create` and `pmu negotiate`.
void AddPmuSpecOptions(CLI::App* sub, std::string& pmu, std::string& cpu_vendor);

}  // namespace vmd::client

#endif  // VMD_CLIENT_PMU_COMMANDS_H_

#include "client/host_commands.h"

#include <vector>

#include "client/printer.h"
#include "client/vmd_client.h"
#include "vmd/v1/host.pb.h"

namespace vmd::client {

void AddHostCommands(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* sub = app.add_subcommand(
      "host", "Show the host: version, backends, limits, sim profiles");
  commands.push_back({sub, [](VmdClient& client, Printer& printer) {
                        return PrintResponse(client.GetHostInfo(), printer,
                                             &Printer::PrintHostInfo);
                      }});
}

}  // namespace vmd::client

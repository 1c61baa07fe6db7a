#include "client/vmctl_app.h"

#include <istream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "backend/rpc/default_paths.h"
#include "client/command.h"
#include "client/host_commands.h"
#include "client/msr_commands.h"
#include "client/pmu_commands.h"
#include "client/printer.h"
#include "client/probe_commands.h"
#include "client/vm_commands.h"
#include "client/vmd_client.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

namespace vmd::client {
namespace {

// CLI11 messages may span lines; vmctl prints exactly one.
std::string OneLine(std::string text) {
  absl::StrReplaceAll({{"\r\n", " "}, {"\n", " "}, {"\r", " "}}, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

std::string FormatCallError(const absl::Status& status,
                            const std::string& address, bool unreachable) {
  std::string message(status.message());
  if (unreachable) {
    message = absl::StrCat("cannot reach vmd at ", address, ": ", message);
  }
  return OneLine(absl::StrCat("vmctl: ", absl::StatusCodeToString(status.code()),
                              ": ", message));
}

int RunVmctl(int argc, const char* const* argv, std::istream& in,
             std::ostream& out, std::ostream& err) {
  std::string address = DefaultAddress();
  std::string output = "table";
  CLI::App app("vmctl: command line for vmd, the KVM VM control plane",
               "vmctl");
  app.set_version_flag("--version", VMD_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // Global options may also follow the subcommand.
  app.add_option("--address", address,
                 "vmd address: unix:/path/to/vmd.sock or host:port "
                 "(default: $VMD_ADDRESS, else the default socket)")
      ->capture_default_str();
  app.add_option("-o,--output", output, "Output format: table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
  // One file per service; `vmctl --help` lists the commands in this order.
  std::vector<Command> commands;
  AddVmCommands(app, commands);
  AddHostCommands(app, commands);
  AddProbeCommands(app, commands);
  AddMsrCommands(app, in, commands);
  AddPmuCommands(app, commands);

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << OneLine(absl::StrCat("vmctl: ", e.what())) << "\n";
    return kExitUsage;
  }

  const Command* command = nullptr;
  for (const Command& c : commands) {
    if (c.app->parsed()) command = &c;
  }
  if (command == nullptr) {  // require_subcommand(1) makes this unreachable.
    err << "vmctl: a command is required\n";
    return kExitUsage;
  }
  if (command->prepare) {
    if (absl::Status status = command->prepare(); !status.ok()) {
      err << OneLine(absl::StrCat("vmctl: ", status.message())) << "\n";
      return kExitUsage;
    }
  }

  VmdClient client(address);
  Printer printer(
      output == "json" ? OutputFormat::kJson : OutputFormat::kTable,
      &out, absl::Now());
  const absl::Status status = command->run(client, printer);
  if (status.ok()) return kExitOk;
  const bool unreachable = status.code() == absl::StatusCode::kUnavailable &&
                           client.IsDisconnected();
  err << FormatCallError(status, client.address(), unreachable) << "\n";
  return kExitCallFailed;
}

}  // namespace vmd::client

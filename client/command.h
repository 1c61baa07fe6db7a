// What every vmctl subcommand is made of, shared by the per-service command
// files (vm_commands.h, host_commands.h, probe_commands.h, msr_commands.h)
// and the frame that parses and dispatches them (vmctl_app.h).
#ifndef VMD_CLIENT_COMMAND_H_
#define VMD_CLIENT_COMMAND_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/parse.h"
#include "client/printer.h"
#include "client/vmd_client.h"

namespace vmd::client {

// One subcommand: `run` makes the call(s) and prints the result, returning
// the call's error unchanged (or a printing error); `prepare` (optional)
// checks what CLI11 cannot before anything is sent, and its error is a usage
// error. The values CLI11 parses into are owned by the closures, so a
// Command stays valid as long as it and its CLI::App exist.
struct Command {
  CLI::App* app;
  std::function<absl::Status(VmdClient&, Printer&)> run;
  std::function<absl::Status()> prepare;
};

// A CLI11 check that accepts what `parse` accepts, reporting its message.
template <typename Parse>
CLI::Validator ParsedBy(Parse parse, const std::string& description) {
  return CLI::Validator(
      [parse](std::string& text) -> std::string {
        auto parsed = parse(text);
        return parsed.ok() ? "" : std::string(parsed.status().message());
      },
      description);
}

// A CLI11 check for a whole-number flag of type T (ParseWholeNumber): a
// negative or too large value is a usage error naming the flag and the rule,
// checked before CLI11 converts it (which would wrap "-1").
template <typename T>
CLI::Validator WholeNumber() {
  const uint64_t max = std::numeric_limits<T>::max();
  return ParsedBy([max](const std::string& t) { return ParseWholeNumber(t, max); },
                  "UINT");
}

// The required positional NAME of the VM a command acts on.
void AddName(CLI::App* app, std::string& name);

// --request-id of a mutating command.
void AddRequestId(CLI::App* app, std::string& request_id);

// Adds the subcommand `name` of `parent` that takes a VM's NAME (into
// args->name, so `args` has one) and runs `run(client, request, printer)`
// with a `Request` whose name is set; `run` sets the rest and makes the call.
// Returns the subcommand, for its other options.
template <typename Request, typename Args, typename Run>
CLI::App* AddVmCall(CLI::App& parent, const std::string& name,
                    const std::string& description,
                    const std::shared_ptr<Args>& args, Run run,
                    std::vector<Command>& commands) {
  CLI::App* sub = parent.add_subcommand(name, description);
  AddName(sub, args->name);
  commands.push_back({sub, [args, run](VmdClient& client, Printer& printer) {
                        Request request;
                        request.set_name(args->name);
                        return run(client, request, printer);
                      }});
  return sub;
}

// A unary call's outcome: its error, or what `print` makes of its response.
template <typename Response, typename Print>
absl::Status PrintResponse(const absl::StatusOr<Response>& response,
                           Print print) {
  if (!response.ok()) return response.status();
  return print(*response);
}

// The same for a Printer method that takes just the response.
template <typename Response>
absl::Status PrintResponse(const absl::StatusOr<Response>& response,
                           Printer& printer,
                           absl::Status (Printer::*print)(const Response&)) {
  return PrintResponse(response, [&](const Response& r) {
    return (printer.*print)(r);
  });
}

}  // namespace vmd::client

#endif  // VMD_CLIENT_COMMAND_H_

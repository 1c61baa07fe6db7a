#include "client/probe_commands.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/printer.h"
#include "client/probe_args.h"
#include "client/vmd_client.h"
#include "vmd/v1/probe.pb.h"

namespace vmd::client {
namespace {

// What the user asked for, filled in by CLI11.
struct ProbeArguments {
  std::string name;

  // probe
  uint32_t timeout_ms = 0;
  // probe: the values of each op flag that takes one, per flag in the order
  // given (the order across flags comes from CLI11's parse order).
  std::map<ProbeFlag, std::vector<std::string>> probe_values;

  // bench
  uint32_t iterations = 0;
};

// An op flag of `probe` and the CLI11 option that takes it.
struct ProbeOpOption {
  const CLI::Option* option;
  ProbeFlag flag;
};

// Adds every op flag of `probe`, repeatable, each value checked on its own.
std::vector<ProbeOpOption> AddProbeOpFlags(CLI::App* app,
                                           ProbeArguments& args) {
  std::vector<ProbeOpOption> options;
  for (const ProbeFlagSpec& spec : ProbeFlagSpecs()) {
    const std::string description = spec.description;
    CLI::Option* option;
    if (*spec.syntax == '\0') {
      option = app->add_flag(spec.name, description)->disable_flag_override();
    } else {
      const ProbeFlag flag = spec.flag;
      auto parse = [flag](const std::string& t) {
        return ParseProbeOp(flag, t);
      };
      option =
          app->add_option(spec.name, args.probe_values[flag], description)
              ->type_name(spec.syntax)
              ->allow_extra_args(false)
              ->check(ParsedBy(parse, ""));
    }
    options.push_back({option, spec.flag});
  }
  return options;
}

// The op flags `app` parsed, in command-line order: CLI11 lists each
// occurrence of an option in parse_order() and keeps each option's values in
// the order given.
std::vector<GivenProbeFlag> GivenProbeFlags(
    const CLI::App& app, const std::vector<ProbeOpOption>& options,
    const ProbeArguments& args) {
  std::vector<GivenProbeFlag> given;
  std::map<ProbeFlag, size_t> next_value;
  for (const CLI::Option* parsed : app.parse_order()) {
    for (const ProbeOpOption& op : options) {
      if (op.option != parsed) continue;
      GivenProbeFlag flag{op.flag, ""};
      auto values = args.probe_values.find(op.flag);
      if (values != args.probe_values.end()) {
        const size_t i = next_value[op.flag]++;
        if (i < values->second.size()) flag.text = values->second[i];
      }
      given.push_back(std::move(flag));
    }
  }
  return given;
}

void AddProbe(CLI::App& app, const std::shared_ptr<ProbeArguments>& args,
              std::vector<Command>& commands) {
  CLI::App* sub = app.add_subcommand(
      "probe",
      "Run guest ops (RDMSR, WRMSR, CPUID, ...) on vCPU 0 of a running VM "
      "with workload probe");
  sub->footer(
      "Ops run in the order given (each flag may repeat) and are numbered "
      "from 0, like the server's ops[i] in errors. Numbers are decimal or "
      "0x-hex. RESULT is the value read, ok (writes), #GP, #UD, fault "
      "vector N, timeout or not run.\n"
      "Example: vmctl probe vm1 --rdmsr 0x10 --wrmsr 0x1b=0xfee00900 "
      "--cpuid 0xa,0");
  AddName(sub, args->name);
  const std::vector<ProbeOpOption> op_options = AddProbeOpFlags(sub, *args);
  sub->add_option("--timeout-ms", args->timeout_ms,
                  "Time for the whole program, at most 600000 (0: server "
                  "default 10000)")
      ->check(WholeNumber<decltype(args->timeout_ms)>());
  auto request = std::make_shared<v1::RunProbeRequest>();
  commands.push_back({
      sub,
      [args, request](VmdClient& client, Printer& printer) {
        request->set_name(args->name);
        request->set_timeout_ms(args->timeout_ms);
        return PrintResponse(client.RunProbe(*request),
                             [&](const v1::RunProbeResponse& response) {
                               return printer.PrintProbeResults(*request,
                                                                response);
                             });
      },
      [args, request, sub, op_options]() -> absl::Status {
        absl::StatusOr<std::vector<v1::ProbeOp>> ops =
            ParseProbeOps(GivenProbeFlags(*sub, op_options, *args));
        if (!ops.ok()) return ops.status();
        for (v1::ProbeOp& op : *ops) *request->add_ops() = std::move(op);
        return absl::OkStatus();
      },
  });
}

void AddBench(CLI::App& app, const std::shared_ptr<ProbeArguments>& args,
              std::vector<Command>& commands) {
  CLI::App* sub = AddVmCall<v1::RunGuestBenchRequest>(
      app, "bench",
      "Time guest exits and interrupts against a raw KVM floor (kvm, "
      "workload probe)",
      args,
      [args](VmdClient& client, v1::RunGuestBenchRequest& request,
             Printer& printer) {
        request.set_iterations(args->iterations);
        return PrintResponse(client.RunGuestBench(request), printer,
                             &Printer::PrintGuestBench);
      },
      commands);
  sub->add_option("--iterations", args->iterations,
                  "Round trips per measurement, at most 1000000 (0: server "
                  "default 10000)")
      ->check(WholeNumber<decltype(args->iterations)>());
}

}  // namespace

void AddProbeCommands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<ProbeArguments>();
  AddProbe(app, args, commands);
  AddBench(app, args, commands);
}

}  // namespace vmd::client

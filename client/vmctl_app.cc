#include "client/vmctl_app.h"

#include <cstdint>
#include <functional>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/commands.h"
#include "backend/rpc/default_paths.h"
#include "client/msr_policy_file.h"
#include "client/parse.h"
#include "client/printer.h"
#include "client/probe_args.h"
#include "client/vmd_client.h"

#ifndef VMD_VERSION
#define VMD_VERSION "unknown"
#endif

namespace vmd::client {
namespace {

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

const CLI::Validator& LabelCheck() {
  static const CLI::Validator* const check = new CLI::Validator(
      ParsedBy([](const std::string& t) { return ParseLabel(t); },
               "KEY=VALUE"));
  return *check;
}

// What the user asked for, filled in by CLI11.
struct Arguments {
  std::string address = DefaultAddress();
  std::string output = "table";

  std::string name;
  std::string request_id;

  // create
  uint32_t vcpus = 1;
  uint64_t memory_mib = 128;
  std::string backend = "auto";
  std::string sim_profile;
  std::string workload;
  std::vector<std::string> labels;

  // list
  std::vector<std::string> states;
  int32_t page_size = 0;
  std::string page_token;

  // stop, probe
  uint32_t timeout_ms = 0;
  // stop
  bool force = false;

  // events
  uint64_t after = 0;
  std::string vm;

  // console
  bool follow = false;
  uint64_t offset = 0;

  // probe: the values of each op flag that takes one, per flag in the order
  // given (the order across flags comes from CLI11's parse order).
  std::map<ProbeFlag, std::vector<std::string>> probe_values;

  // bench
  uint32_t iterations = 0;

  // msr set
  std::string policy_file;
  std::string preset;
};

// One subcommand: `run` makes the call; `prepare` (optional) checks what
// CLI11 cannot (its error is a usage error) before anything is sent.
struct Command {
  CLI::App* app;
  std::function<absl::Status(VmdClient&, Printer&)> run;
  std::function<absl::Status()> prepare;
};

void AddName(CLI::App* app, Arguments& args) {
  app->add_option("NAME", args.name, "VM name")->required();
}

void AddRequestId(CLI::App* app, Arguments& args) {
  app->add_option("--request-id", args.request_id,
                  "Idempotency key: a retry with the same id returns the "
                  "first answer");
}

// Repeatable "--label k=v" (also "--label k=v,k2=v2").
void AddLabels(CLI::App* app, std::vector<std::string>& labels,
               const std::string& description) {
  app->add_option("--label", labels, description)
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(LabelCheck());
}

// An op flag of `probe` and the CLI11 option that takes it.
struct ProbeOpOption {
  const CLI::Option* option;
  ProbeFlag flag;
};

// Adds every op flag of `probe`, repeatable, each value checked on its own.
std::vector<ProbeOpOption> AddProbeOpFlags(CLI::App* app, Arguments& args) {
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
    const Arguments& args) {
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

// `msr get|set|stats`. `in` is read by `msr set --file -`.
void DefineMsrCommands(CLI::App& app, Arguments& args, std::istream& in,
                       std::vector<Command>& commands) {
  CLI::App* msr = app.add_subcommand(
      "msr", "Show or set a VM's MSR policy; show its MSR access counters");
  msr->require_subcommand(1);

  {
    CLI::App* sub = msr->add_subcommand("get", "Show a VM's MSR policy");
    sub->footer(
        "Shows the default action, what unknown MSRs get, whether denials are "
        "logged, the preset the policy came from, then the rules (first match "
        "decides; MSRs FIRST-LAST inclusive, in hex) and the handlers of "
        "emulated MSRs. -o json prints the MsrPolicy, the format `msr set "
        "--file` reads.");
    AddName(sub, args);
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::GetMsrPolicyRequest request;
                          request.set_name(args.name);
                          return RunMsrGet(client, request, printer);
                        }});
  }

  {
    CLI::App* sub = msr->add_subcommand(
        "set", "Replace a VM's MSR policy (a running VM switches atomically)");
    sub->footer(
        "Give exactly one of --file and --preset. The file is a "
        "vmd.v1.MsrPolicy in protobuf's canonical JSON, e.g. (`vmctl msr get "
        "-o json` prints one):\n"
        "  {\"defaultAction\": \"MSR_ACTION_DENY\", \"rules\": [{\"first\": "
        "16, \"count\": 1, \"access\": \"MSR_ACCESS_READ\", \"action\": "
        "\"MSR_ACTION_EMULATE\"}], \"handlers\": [{\"index\": 16, \"read\": "
        "\"READ_SOURCE_CONSTANT\", \"constant\": \"4096\", \"write\": "
        "\"WRITE_ACTION_IGNORE\"}]}\n"
        "JSON numbers are decimal (16 is MSR 0x10); 64-bit ones may be "
        "strings. Unknown fields are errors. Prints the server's warnings "
        "(\"warning: ...\" lines, on stdout like the rest; with -o json they "
        "are in the response's \"warnings\"), how the policy maps onto KVM's "
        "MSR filter (ranges, bitmap bytes, default deny, exit reasons), and "
        "the policy as stored, like `msr get`.");
    AddName(sub, args);
    CLI::Option* file =
        sub->add_option("--file", args.policy_file,
                        "The policy: an MsrPolicy in JSON; - reads stdin")
            ->type_name("FILE");
    CLI::Option* preset =
        sub->add_option("--preset", args.preset, "A named policy")
            ->type_name("NAME")
            ->check(CLI::IsMember({"default", "strict", "platform-compat"}));
    AddRequestId(sub, args);
    auto request = std::make_shared<v1::SetMsrPolicyRequest>();
    commands.push_back({
        sub,
        [&args, request](VmdClient& client, Printer& printer) {
          request->set_name(args.name);
          request->set_request_id(args.request_id);
          return RunMsrSet(client, *request, printer);
        },
        [&args, &in, request, file, preset]() -> absl::Status {
          if (file->count() > 0 && preset->count() > 0) {
            return absl::InvalidArgumentError(
                "--file and --preset exclude each other; give one");
          }
          if (preset->count() > 0) {
            request->set_preset(args.preset);
            return absl::OkStatus();
          }
          if (file->count() == 0) {
            return absl::InvalidArgumentError(
                "msr set needs the policy: --file FILE or --preset NAME");
          }
          absl::StatusOr<v1::MsrPolicy> policy =
              LoadMsrPolicyFile(args.policy_file, in);
          if (!policy.ok()) return policy.status();
          *request->mutable_policy() = *std::move(policy);
          return absl::OkStatus();
        },
    });
  }

  {
    CLI::App* sub = msr->add_subcommand(
        "stats", "Show the trapped MSR accesses of a running VM");
    sub->footer(
        "One row per MSR, direction and outcome (denied: the guest got #GP "
        "by policy; emulated: a handler answered; unhandled: trapped, no "
        "handler, #GP), sorted by MSR; then the denial events emitted and "
        "those the rate limit suppressed.");
    AddName(sub, args);
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::GetMsrStatsRequest request;
                          request.set_name(args.name);
                          return RunMsrStats(client, request, printer);
                        }});
  }
}

std::vector<Command> DefineCommands(CLI::App& app, Arguments& args,
                                    std::istream& in) {
  std::vector<Command> commands;

  {
    CLI::App* sub = app.add_subcommand("create", "Create a VM (not started)");
    AddName(sub, args);
    sub->add_option("--vcpus", args.vcpus, "Number of vCPUs")
        ->capture_default_str();
    sub->add_option("--memory-mib", args.memory_mib, "Guest memory in MiB")
        ->capture_default_str();
    sub->add_option("--backend", args.backend, "auto, kvm or sim")
        ->capture_default_str()
        ->check(ParsedBy([](const std::string& t) { return ParseBackend(t); },
                         "auto|kvm|sim"));
    sub->add_option("--sim-profile", args.sim_profile,
                    "Sim host profile (see `vmctl host`); default profile "
                    "when empty");
    sub->add_option("--workload", args.workload,
                    "Built-in guest workload: idle (default), counter, or "
                    "probe (for `vmctl probe` and `vmctl bench`)");
    AddLabels(sub, args.labels, "Label KEY=VALUE (repeatable)");
    AddRequestId(sub, args);
    auto request = std::make_shared<v1::CreateVmRequest>();
    commands.push_back({
        sub,
        [&args, request](VmdClient& client, Printer& printer) {
          v1::VmSpec& spec = *request->mutable_spec();
          spec.set_name(args.name);
          spec.set_vcpus(args.vcpus);
          spec.set_memory_mib(args.memory_mib);
          spec.set_backend(*ParseBackend(args.backend));  // Checked by CLI11.
          spec.set_sim_profile(args.sim_profile);
          spec.set_workload(args.workload);
          request->set_request_id(args.request_id);
          return RunCreate(client, *request, printer);
        },
        [&args, request]() -> absl::Status {
          absl::StatusOr<std::map<std::string, std::string>> labels =
              ParseLabels(args.labels);
          if (!labels.ok()) return labels.status();
          request->mutable_spec()->mutable_labels()->insert(labels->begin(),
                                                            labels->end());
          return absl::OkStatus();
        },
    });
  }

  {
    CLI::App* sub = app.add_subcommand("get", "Show one VM");
    AddName(sub, args);
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::GetVmRequest request;
                          request.set_name(args.name);
                          return RunGet(client, request, printer);
                        }});
  }

  {
    CLI::App* sub = app.add_subcommand("list", "List VMs");
    sub->footer(
        "Fetches every page unless --page-token is given; then it fetches "
        "that one page (--page-token '' for the first) and shows the next "
        "page token.");
    AddLabels(sub, args.labels,
              "Only VMs with label KEY=VALUE (repeatable; all must match)");
    sub->add_option("--state", args.states,
                    "Only VMs in this state (repeatable; any may match)")
        ->delimiter(',')
        ->allow_extra_args(false)
        ->check(ParsedBy([](const std::string& t) { return ParseVmState(t); },
                         "STATE"));
    sub->add_option("--page-size", args.page_size,
                    "VMs per call, 1-1000 (server default 100)")
        ->check(CLI::Range(1, 1000));
    CLI::Option* page_token = sub->add_option(
        "--page-token", args.page_token,
        "Fetch only the page at this token (from a previous list)");
    auto request = std::make_shared<v1::ListVmsRequest>();
    commands.push_back({
        sub,
        [&args, request, page_token](VmdClient& client, Printer& printer) {
          for (const std::string& state : args.states) {
            request->add_states(*ParseVmState(state));  // Checked by CLI11.
          }
          request->set_page_size(args.page_size);
          request->set_page_token(args.page_token);
          return RunList(client, *request,
                         /*all_pages=*/page_token->count() == 0, printer);
        },
        [&args, request]() -> absl::Status {
          absl::StatusOr<std::map<std::string, std::string>> labels =
              ParseLabels(args.labels);
          if (!labels.ok()) return labels.status();
          request->mutable_label_selector()->insert(labels->begin(),
                                                    labels->end());
          return absl::OkStatus();
        },
    });
  }

  // start, pause, resume and delete differ only in request type and call.
  auto add_simple = [&](const char* name, const char* description,
                        auto run) {
    CLI::App* sub = app.add_subcommand(name, description);
    AddName(sub, args);
    AddRequestId(sub, args);
    commands.push_back({sub, [&args, run](VmdClient& client, Printer& printer) {
                          return run(client, args, printer);
                        }});
  };
  add_simple("start", "Start a created, stopped or crashed VM",
             [](VmdClient& client, const Arguments& a, Printer& printer) {
               v1::StartVmRequest request;
               request.set_name(a.name);
               request.set_request_id(a.request_id);
               return RunStart(client, request, printer);
             });
  add_simple("pause", "Pause a running VM",
             [](VmdClient& client, const Arguments& a, Printer& printer) {
               v1::PauseVmRequest request;
               request.set_name(a.name);
               request.set_request_id(a.request_id);
               return RunPause(client, request, printer);
             });
  add_simple("resume", "Resume a paused VM",
             [](VmdClient& client, const Arguments& a, Printer& printer) {
               v1::ResumeVmRequest request;
               request.set_name(a.name);
               request.set_request_id(a.request_id);
               return RunResume(client, request, printer);
             });

  {
    CLI::App* sub = app.add_subcommand(
        "stop", "Stop a VM: ask the guest, then force it off after the timeout");
    AddName(sub, args);
    sub->add_option("--timeout-ms", args.timeout_ms,
                    "Grace period before forcing off, at most 600000 (0: "
                    "server default 10000)");
    sub->add_flag("--force", args.force, "Power off at once");
    AddRequestId(sub, args);
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::StopVmRequest request;
                          request.set_name(args.name);
                          request.set_request_id(args.request_id);
                          request.set_timeout_ms(args.timeout_ms);
                          request.set_force(args.force);
                          return RunStop(client, request, printer);
                        }});
  }

  add_simple("delete", "Delete a created, stopped or crashed VM",
             [](VmdClient& client, const Arguments& a, Printer& printer) {
               v1::DeleteVmRequest request;
               request.set_name(a.name);
               request.set_request_id(a.request_id);
               return RunDelete(client, request, printer);
             });

  {
    CLI::App* sub = app.add_subcommand(
        "events", "Follow VM events until interrupted (Ctrl-C)");
    sub->add_option("--after", args.after,
                    "Only events after this sequence number (0: all "
                    "retained)");
    sub->add_option("--vm", args.vm, "Only events of this VM");
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::WatchEventsRequest request;
                          request.set_after_sequence(args.after);
                          request.set_vm_name(args.vm);
                          return RunEvents(client, request, printer);
                        }});
  }

  {
    CLI::App* sub = app.add_subcommand(
        "console", "Write a VM's console output (COM1) to stdout");
    AddName(sub, args);
    sub->add_flag("-f,--follow", args.follow,
                  "Keep writing new output until interrupted (Ctrl-C)");
    sub->add_option("--offset", args.offset,
                    "Start at this byte offset of the console log");
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::StreamConsoleRequest request;
                          request.set_name(args.name);
                          request.set_offset(args.offset);
                          request.set_follow(args.follow);
                          return RunConsole(client, request, printer);
                        }});
  }

  {
    CLI::App* sub = app.add_subcommand(
        "host", "Show the host: version, backends, limits, sim profiles");
    commands.push_back({sub, [](VmdClient& client, Printer& printer) {
                          return RunHost(client, printer);
                        }});
  }

  {
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
    AddName(sub, args);
    const std::vector<ProbeOpOption> op_options = AddProbeOpFlags(sub, args);
    sub->add_option("--timeout-ms", args.timeout_ms,
                    "Time for the whole program, at most 600000 (0: server "
                    "default 10000)");
    auto request = std::make_shared<v1::RunProbeRequest>();
    commands.push_back({
        sub,
        [&args, request](VmdClient& client, Printer& printer) {
          request->set_name(args.name);
          request->set_timeout_ms(args.timeout_ms);
          return RunProbe(client, *request, printer);
        },
        [&args, request, sub, op_options]() -> absl::Status {
          absl::StatusOr<std::vector<v1::ProbeOp>> ops =
              ParseProbeOps(GivenProbeFlags(*sub, op_options, args));
          if (!ops.ok()) return ops.status();
          for (v1::ProbeOp& op : *ops) *request->add_ops() = std::move(op);
          return absl::OkStatus();
        },
    });
  }

  {
    CLI::App* sub = app.add_subcommand(
        "bench",
        "Time guest exits and interrupts against a raw KVM floor (kvm, "
        "workload probe)");
    AddName(sub, args);
    sub->add_option("--iterations", args.iterations,
                    "Round trips per measurement, at most 1000000 (0: server "
                    "default 10000)");
    commands.push_back({sub, [&args](VmdClient& client, Printer& printer) {
                          v1::RunGuestBenchRequest request;
                          request.set_name(args.name);
                          request.set_iterations(args.iterations);
                          return RunBench(client, request, printer);
                        }});
  }

  DefineMsrCommands(app, args, in, commands);
  return commands;
}

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
  Arguments args;
  CLI::App app("vmctl: command line for vmd, the KVM VM control plane",
               "vmctl");
  app.set_version_flag("--version", VMD_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // Global options may also follow the subcommand.
  app.add_option("--address", args.address,
                 "vmd address: unix:/path/to/vmd.sock or host:port "
                 "(default: $VMD_ADDRESS, else the default socket)")
      ->capture_default_str();
  app.add_option("-o,--output", args.output, "Output format: table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
  std::vector<Command> commands = DefineCommands(app, args, in);

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

  VmdClient client(args.address);
  Printer printer(
      args.output == "json" ? OutputFormat::kJson : OutputFormat::kTable,
      &out, absl::Now());
  const absl::Status status = command->run(client, printer);
  if (status.ok()) return kExitOk;
  const bool unreachable = status.code() == absl::StatusCode::kUnavailable &&
                           client.IsDisconnected();
  err << FormatCallError(status, client.address(), unreachable) << "\n";
  return kExitCallFailed;
}

}  // namespace vmd::client

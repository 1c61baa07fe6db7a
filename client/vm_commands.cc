#include "client/vm_commands.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/interrupt.h"
#include "client/parse.h"
#include "client/pmu_commands.h"
#include "client/pmu_output.h"
#include "client/printer.h"
#include "client/vmd_client.h"
#include "google/protobuf/map.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::client {
namespace {

// What the user asked for, filled in by CLI11. Only one subcommand parses,
// so they share the fields they have in common.
struct VmArguments {
  std::string name;
  std::string request_id;

  // create (0: the server's default, vm.proto)
  uint32_t vcpus = 0;
  uint64_t memory_mib = 0;
  std::string backend = "auto";
  std::string sim_profile;
  std::string workload;
  std::string pmu;  // empty: no PMU spec
  std::string cpu_vendor;
  // create; list (as a selector)
  std::vector<std::string> labels;

  // list
  std::vector<std::string> states;
  int32_t page_size = 0;
  std::string page_token;

  // stop
  uint32_t timeout_ms = 0;
  bool force = false;

  // events
  uint64_t after = 0;
  std::string vm;

  // console
  bool follow = false;
  uint64_t offset = 0;
};

// Repeatable "--label k=v" (also "--label k=v,k2=v2").
void AddLabels(CLI::App* app, std::vector<std::string>& labels,
               const std::string& description) {
  static const CLI::Validator* const check = new CLI::Validator(ParsedBy(
      [](const std::string& t) { return ParseLabel(t); }, "KEY=VALUE"));
  app->add_option("--label", labels, description)
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(*check);
}

// The labels given with --label, as a map; an error is a usage error.
absl::Status InsertLabels(const std::vector<std::string>& texts,
                          google::protobuf::Map<std::string, std::string>* to) {
  absl::StatusOr<std::map<std::string, std::string>> labels =
      ParseLabels(texts);
  if (!labels.ok()) return labels.status();
  to->insert(labels->begin(), labels->end());
  return absl::OkStatus();
}

// With `all_pages`, follows next_page_token from request.page_token() to the
// end and prints every VM as one response; otherwise prints the one page
// (with its next page token).
absl::Status RunList(VmdClient& client, const v1::ListVmsRequest& request,
                     bool all_pages, Printer& printer) {
  if (!all_pages) {
    return PrintResponse(client.ListVms(request), printer,
                         &Printer::PrintVmList);
  }
  uint64_t head_sequence = 0;
  absl::StatusOr<std::vector<v1::Vm>> vms =
      client.ListAllVms(request, CallOptions{}, &head_sequence);
  if (!vms.ok()) return vms.status();
  v1::ListVmsResponse all;
  all.set_head_sequence(head_sequence);
  for (v1::Vm& vm : *vms) *all.add_vms() = std::move(vm);
  return printer.PrintVmList(all);
}

// Streams `request` with `call`, printing each message with `print`, until
// the server ends the stream or SIGINT/SIGTERM arrives (see interrupt.h):
// both are success. A print failure stops the stream.
template <typename Request, typename Message>
absl::Status FollowStream(
    VmdClient& client, const Request& request,
    absl::Status (VmdClient::*call)(const Request&,
                                    absl::FunctionRef<bool(const Message&)>,
                                    StreamCanceller*, const CallOptions&),
    Printer& printer, absl::Status (Printer::*print)(const Message&)) {
  StreamCanceller canceller;
  CancelOnInterrupt cancel_on_interrupt(&canceller);
  absl::Status print_status;
  absl::Status status = (client.*call)(
      request,
      [&](const Message& message) {
        print_status = (printer.*print)(message);
        return print_status.ok();
      },
      &canceller, CallOptions{});
  if (!status.ok()) return status;
  return print_status;
}

// A command on one VM that sends --request-id too: start, pause, resume,
// stop and delete. `run` is as for AddVmCall. The caller adds --request-id
// after its own options (the order --help lists them in).
template <typename Request, typename Run>
CLI::App* AddVmMutation(CLI::App& app, const std::string& name,
                        const std::string& description,
                        const std::shared_ptr<VmArguments>& args, Run run,
                        std::vector<Command>& commands) {
  return AddVmCall<Request>(
      app, name, description, args,
      [args, run](VmdClient& client, Request& request, Printer& printer) {
        request.set_request_id(args->request_id);
        return run(client, request, printer);
      },
      commands);
}

// start, pause and resume: NAME and --request-id in, the VM out.
template <typename Request>
void AddTransition(CLI::App& app, const std::string& name,
                   const std::string& description,
                   const std::shared_ptr<VmArguments>& args,
                   absl::StatusOr<v1::Vm> (VmdClient::*call)(
                       const Request&, const CallOptions&),
                   std::vector<Command>& commands) {
  CLI::App* sub = AddVmMutation<Request>(
      app, name, description, args,
      [call](VmdClient& client, Request& request, Printer& printer) {
        return PrintResponse((client.*call)(request, CallOptions{}), printer,
                             &Printer::PrintVm);
      },
      commands);
  AddRequestId(sub, args->request_id);
}

void AddCreate(CLI::App& app, const std::shared_ptr<VmArguments>& args,
               std::vector<Command>& commands) {
  CLI::App* sub = app.add_subcommand("create", "Create a VM (not started)");
  AddName(sub, args->name);
  sub->add_option("--vcpus", args->vcpus,
                  "Number of vCPUs (server default 1)")
      ->check(WholeNumber<uint32_t>());
  sub->add_option("--memory-mib", args->memory_mib,
                  "Guest memory in MiB (server default 256)")
      ->check(WholeNumber<uint64_t>());
  sub->add_option("--backend", args->backend, "auto, kvm or sim")
      ->capture_default_str()
      ->check(ParsedBy([](const std::string& t) { return ParseBackend(t); },
                       "auto|kvm|sim"));
  sub->add_option("--sim-profile", args->sim_profile,
                  "Sim host profile (see `vmctl host`); default profile "
                  "when empty");
  sub->add_option("--workload", args->workload,
                  "Built-in guest workload: idle (default), counter, or "
                  "probe (for `vmctl probe` and `vmctl bench`)");
  AddLabels(sub, args->labels, "Label KEY=VALUE (repeatable)");
  AddPmuSpecOptions(sub, args->pmu, args->cpu_vendor);
  AddRequestId(sub, args->request_id);
  auto request = std::make_shared<v1::CreateVmRequest>();
  commands.push_back({
      sub,
      [args, request](VmdClient& client, Printer& printer) {
        v1::VmSpec& spec = *request->mutable_spec();
        spec.set_name(args->name);
        spec.set_vcpus(args->vcpus);
        spec.set_memory_mib(args->memory_mib);
        spec.set_backend(*ParseBackend(args->backend));  // Checked by CLI11.
        spec.set_sim_profile(args->sim_profile);
        spec.set_workload(args->workload);
        // Checked by CLI11.
        if (!args->pmu.empty()) *spec.mutable_pmu() = *ParsePmuSpec(args->pmu);
        spec.set_cpu_vendor(args->cpu_vendor);
        request->set_request_id(args->request_id);
        return PrintResponse(client.CreateVm(*request), printer,
                             &Printer::PrintVm);
      },
      [args, request]() {
        return InsertLabels(args->labels,
                            request->mutable_spec()->mutable_labels());
      },
  });
}

void AddList(CLI::App& app, const std::shared_ptr<VmArguments>& args,
             std::vector<Command>& commands) {
  CLI::App* sub = app.add_subcommand("list", "List VMs");
  sub->footer(
      "Fetches every page unless --page-token is given; then it fetches "
      "that one page (--page-token '' for the first) and shows the next "
      "page token.");
  AddLabels(sub, args->labels,
            "Only VMs with label KEY=VALUE (repeatable; all must match)");
  sub->add_option("--state", args->states,
                  "Only VMs in this state (repeatable; any may match)")
      ->delimiter(',')
      ->allow_extra_args(false)
      ->check(ParsedBy([](const std::string& t) { return ParseVmState(t); },
                       "STATE"));
  sub->add_option("--page-size", args->page_size,
                  "VMs per call, 1-1000 (server default 100)")
      ->check(CLI::Range(1, 1000));
  CLI::Option* page_token = sub->add_option(
      "--page-token", args->page_token,
      "Fetch only the page at this token (from a previous list)");
  auto request = std::make_shared<v1::ListVmsRequest>();
  commands.push_back({
      sub,
      [args, request, page_token](VmdClient& client, Printer& printer) {
        for (const std::string& state : args->states) {
          request->add_states(*ParseVmState(state));  // Checked by CLI11.
        }
        request->set_page_size(args->page_size);
        request->set_page_token(args->page_token);
        return RunList(client, *request,
                       /*all_pages=*/page_token->count() == 0, printer);
      },
      [args, request]() {
        return InsertLabels(args->labels, request->mutable_label_selector());
      },
  });
}

void AddStop(CLI::App& app, const std::shared_ptr<VmArguments>& args,
             std::vector<Command>& commands) {
  CLI::App* sub = AddVmMutation<v1::StopVmRequest>(
      app, "stop",
      "Stop a VM: ask the guest, then force it off after the timeout", args,
      [args](VmdClient& client, v1::StopVmRequest& request, Printer& printer) {
        request.set_timeout_ms(args->timeout_ms);
        request.set_force(args->force);
        return PrintResponse(client.StopVm(request), printer,
                             &Printer::PrintVm);
      },
      commands);
  sub->add_option("--timeout-ms", args->timeout_ms,
                  "Grace period before forcing off, at most 600000 (0: "
                  "server default 10000)")
      ->check(WholeNumber<uint32_t>());
  sub->add_flag("--force", args->force, "Power off at once");
  AddRequestId(sub, args->request_id);
}

void AddEvents(CLI::App& app, const std::shared_ptr<VmArguments>& args,
               std::vector<Command>& commands) {
  CLI::App* sub = app.add_subcommand(
      "events", "Follow VM events until interrupted (Ctrl-C)");
  sub->add_option("--after", args->after,
                  "Only events after this sequence number (0: all "
                  "retained)")
      ->check(WholeNumber<uint64_t>());
  sub->add_option("--vm", args->vm, "Only events of this VM");
  commands.push_back({sub, [args](VmdClient& client, Printer& printer) {
                        v1::WatchEventsRequest request;
                        request.set_after_sequence(args->after);
                        request.set_vm_name(args->vm);
                        return FollowStream(client, request,
                                            &VmdClient::WatchEvents, printer,
                                            &Printer::PrintEvent);
                      }});
}

void AddConsole(CLI::App& app, const std::shared_ptr<VmArguments>& args,
                std::vector<Command>& commands) {
  CLI::App* sub = AddVmCall<v1::StreamConsoleRequest>(
      app, "console", "Write a VM's console output (COM1) to stdout", args,
      [args](VmdClient& client, v1::StreamConsoleRequest& request,
             Printer& printer) {
        request.set_offset(args->offset);
        request.set_follow(args->follow);
        return FollowStream(client, request, &VmdClient::StreamConsole,
                            printer, &Printer::PrintConsoleChunk);
      },
      commands);
  sub->add_flag("-f,--follow", args->follow,
                "Keep writing new output until interrupted (Ctrl-C)");
  sub->add_option("--offset", args->offset,
                  "Start at this byte offset of the console log")
      ->check(WholeNumber<uint64_t>());
}

}  // namespace

void AddVmCommands(CLI::App& app, std::vector<Command>& commands) {
  auto args = std::make_shared<VmArguments>();
  AddCreate(app, args, commands);
  AddVmCall<v1::GetVmRequest>(
      app, "get", "Show one VM", args,
      [](VmdClient& client, v1::GetVmRequest& request, Printer& printer) {
        return PrintResponse(client.GetVm(request), printer, &Printer::PrintVm);
      },
      commands);
  AddList(app, args, commands);
  AddTransition(app, "start", "Start a created, stopped or crashed VM", args,
                &VmdClient::StartVm, commands);
  AddTransition(app, "pause", "Pause a running VM", args, &VmdClient::PauseVm,
                commands);
  AddTransition(app, "resume", "Resume a paused VM", args,
                &VmdClient::ResumeVm, commands);
  AddStop(app, args, commands);
  CLI::App* remove = AddVmMutation<v1::DeleteVmRequest>(
      app, "delete", "Delete a created, stopped or crashed VM", args,
      [](VmdClient& client, v1::DeleteVmRequest& request, Printer& printer) {
        return PrintResponse(client.DeleteVm(request),
                             [&](const v1::DeleteVmResponse& response) {
                               return printer.PrintDeleted(request.name(),
                                                           response);
                             });
      },
      commands);
  AddRequestId(remove, args->request_id);
  AddEvents(app, args, commands);
  AddConsole(app, args, commands);
}

}  // namespace vmd::client

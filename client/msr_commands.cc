#include "client/msr_commands.h"

#include <istream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/msr_policy_file.h"
#include "client/printer.h"
#include "client/vmd_client.h"
#include "vmd/v1/msr.pb.h"

namespace vmd::client {
namespace {

// What the user asked for, filled in by CLI11.
struct MsrArguments {
  std::string name;
  std::string request_id;

  // set
  std::string policy_file;
  std::string preset;
};

void AddGet(CLI::App& msr, const std::shared_ptr<MsrArguments>& args,
            std::vector<Command>& commands) {
  CLI::App* sub = AddVmCall<v1::GetMsrPolicyRequest>(
      msr, "get", "Show a VM's MSR policy", args,
      [](VmdClient& client, v1::GetMsrPolicyRequest& request,
         Printer& printer) {
        return PrintResponse(client.GetMsrPolicy(request), printer,
                             &Printer::PrintMsrPolicy);
      },
      commands);
  sub->footer(
      "Shows the default action, what unknown MSRs get, whether denials are "
      "logged, the preset the policy came from, then the rules (first match "
      "decides; MSRs FIRST-LAST inclusive, in hex) and the handlers of "
      "emulated MSRs. -o json prints the MsrPolicy, the format `msr set "
      "--file` reads.");
}

void AddSet(CLI::App& msr, std::istream& in,
            const std::shared_ptr<MsrArguments>& args,
            std::vector<Command>& commands) {
  CLI::App* sub = msr.add_subcommand(
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
  AddName(sub, args->name);
  CLI::Option* file =
      sub->add_option("--file", args->policy_file,
                      "The policy: an MsrPolicy in JSON; - reads stdin")
          ->type_name("FILE");
  CLI::Option* preset =
      sub->add_option("--preset", args->preset, "A named policy")
          ->type_name("NAME")
          ->check(CLI::IsMember({"default", "strict", "platform-compat"}));
  AddRequestId(sub, args->request_id);
  auto request = std::make_shared<v1::SetMsrPolicyRequest>();
  commands.push_back({
      sub,
      [args, request](VmdClient& client, Printer& printer) {
        request->set_name(args->name);
        request->set_request_id(args->request_id);
        return PrintResponse(client.SetMsrPolicy(*request), printer,
                             &Printer::PrintSetMsrPolicyResponse);
      },
      [args, &in, request, file, preset]() -> absl::Status {
        if (file->count() > 0 && preset->count() > 0) {
          return absl::InvalidArgumentError(
              "--file and --preset exclude each other; give one");
        }
        if (preset->count() > 0) {
          request->set_preset(args->preset);
          return absl::OkStatus();
        }
        if (file->count() == 0) {
          return absl::InvalidArgumentError(
              "msr set needs the policy: --file FILE or --preset NAME");
        }
        absl::StatusOr<v1::MsrPolicy> policy =
            LoadMsrPolicyFile(args->policy_file, in);
        if (!policy.ok()) return policy.status();
        *request->mutable_policy() = *std::move(policy);
        return absl::OkStatus();
      },
  });
}

void AddStats(CLI::App& msr, const std::shared_ptr<MsrArguments>& args,
              std::vector<Command>& commands) {
  CLI::App* sub = AddVmCall<v1::GetMsrStatsRequest>(
      msr, "stats", "Show the trapped MSR accesses of a running VM", args,
      [](VmdClient& client, v1::GetMsrStatsRequest& request,
         Printer& printer) {
        return PrintResponse(client.GetMsrStats(request), printer,
                             &Printer::PrintMsrStats);
      },
      commands);
  sub->footer(
      "One row per MSR, direction and outcome (denied: the guest got #GP "
      "by policy; emulated: a handler answered; unhandled: trapped, no "
      "handler, #GP), sorted by MSR; then the denial events emitted and "
      "those the rate limit suppressed.");
}

}  // namespace

void AddMsrCommands(CLI::App& app, std::istream& in,
                    std::vector<Command>& commands) {
  CLI::App* msr = app.add_subcommand(
      "msr", "Show or set a VM's MSR policy; show its MSR access counters");
  msr->require_subcommand(1);
  auto args = std::make_shared<MsrArguments>();
  AddGet(*msr, args, commands);
  AddSet(*msr, in, args, commands);
  AddStats(*msr, args, commands);
}

}  // namespace vmd::client

#include "client/pmu_commands.h"

#include <memory>
#include <string>

#include "client/pmu_output.h"
#include "client/printer.h"
#include "client/vmd_client.h"

namespace vmd::client {
namespace {

struct PmuArguments {
  std::string name;
  std::string pmu = "host";
  std::string cpu_vendor;
  std::string backend = "auto";
  std::string sim_profile;
};

constexpr char kSpecHelp[] =
    "off, host, or a vmd.v1.PmuSpec as JSON, e.g. "
    "'{\"mode\":\"PMU_MODE_CUSTOM\",\"custom\":{\"version\":5,\"gpCounters\":4,\"fixedCounterBitmap\":6,"
    "\"lbr\":\"LBR_MODE_LEGACY\"},\"policy\":\"PMU_POLICY_BEST_EFFORT\"}'";

}  // namespace

void AddPmuSpecOptions(CLI::App* sub, std::string& pmu, std::string& cpu_vendor) {
  sub->add_option("--pmu", pmu, kSpecHelp)
      ->check(ParsedBy([](const std::string& t) { return ParsePmuSpec(t); }, "SPEC"));
  sub->add_option("--cpu-vendor", cpu_vendor,
                  "Guest CPU vendor, intel or amd (default: the host's, or the sim profile's)")
      ->check(CLI::IsMember({"intel", "amd"}));
}

void AddPmuCommands(CLI::App& app, std::vector<Command>& commands) {
  CLI::App* pmu = app.add_subcommand("pmu", "Guest PMU: negotiate a spec, show a VM's grant or the host's PMU");
  pmu->require_subcommand(1);
  auto args = std::make_shared<PmuArguments>();

  CLI::App* negotiate = pmu->add_subcommand(
      "negotiate", "What a VM with this PMU spec would get here, item by item (changes nothing)");
  AddPmuSpecOptions(negotiate, args->pmu, args->cpu_vendor);
  negotiate->add_option("--backend", args->backend, "auto, kvm or sim")
      ->capture_default_str()
      ->check(ParsedBy([](const std::string& t) { return ParseBackend(t); }, "auto|kvm|sim"));
  negotiate->add_option("--sim-profile", args->sim_profile, "Sim host profile (see `vmctl host`)");
  commands.push_back({negotiate, [args](VmdClient& client, Printer& printer) {
                        v1::NegotiatePmuRequest request;
                        *request.mutable_spec() = *ParsePmuSpec(args->pmu);  // Checked by CLI11.
                        request.set_backend(*ParseBackend(args->backend));
                        request.set_sim_profile(args->sim_profile);
                        request.set_cpu_vendor(args->cpu_vendor);
                        return PrintResponse(client.NegotiatePmu(request), printer, &Printer::PrintPmuGrant);
                      }});

  AddVmCall<v1::GetVmRequest>(
      *pmu, "get", "A VM's PMU grant (from CreateVm, or its last StartVm)", args,
      [](VmdClient& client, v1::GetVmRequest& request, Printer& printer) {
        absl::StatusOr<v1::Vm> vm = client.GetVm(request);
        if (!vm.ok()) return vm.status();
        if (!vm->status().has_pmu_grant()) {
          return absl::NotFoundError(absl::StrCat("vm ", request.name(), " has no PMU spec (create it with --pmu)"));
        }
        return printer.PrintPmuGrant(vm->status().pmu_grant());
      },
      commands);

  CLI::App* host = pmu->add_subcommand("host", "This host's PMU (kvm), and each sim profile's");
  commands.push_back({host, [](VmdClient& client, Printer& printer) {
                        return PrintResponse(client.GetHostInfo(), printer, &Printer::PrintHostPmu);
                      }});
}

}  // namespace vmd::client

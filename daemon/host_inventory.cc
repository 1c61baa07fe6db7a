#include "daemon/host_inventory.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace vmd::daemon {

std::string EffectiveBackend(const v1::VmSpec& spec, const v1::HostInfo& host) {
  switch (spec.backend()) {
    case v1::BACKEND_KVM: return "kvm";
    case v1::BACKEND_SIM: return "sim";
    default: return host.auto_backend();
  }
}

absl::StatusOr<v1::HostInfo> ParseHostProbe(const std::string& json_text) {
  nlohmann::json j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InternalError("host probe: output is not JSON");
  v1::HostInfo host;
  try {
    host.set_version(VMD_VERSION);
    for (const auto& b : j.at("backends")) {
      v1::BackendInfo* info = host.add_backends();
      info->set_name(b.at("name").get<std::string>());
      info->set_usable(b.at("usable").get<bool>());
      info->set_reason(b.at("reason").get<std::string>());
      info->set_max_vcpus(b.at("max_vcpus").get<uint32_t>());
    }
    host.set_auto_backend(j.at("auto_backend").get<std::string>());
    for (const v1::BackendInfo& b : host.backends()) {
      if (b.name() == host.auto_backend()) host.mutable_limits()->set_max_vcpus(b.max_vcpus());
    }
    host.mutable_limits()->set_max_memory_mib(j.at("max_memory_mib").get<uint64_t>());
    for (const auto& p : j.at("sim_profiles")) {
      v1::SimProfile* profile = host.add_sim_profiles();
      profile->set_name(p.at("name").get<std::string>());
      profile->set_description(p.at("description").get<std::string>());
      profile->set_vendor(p.value("vendor", "intel"));
    }
    host.set_default_sim_profile(j.at("default_sim_profile").get<std::string>());
    host.set_cpu_vendor(j.value("cpu_vendor", "intel"));
  } catch (const nlohmann::json::exception& e) {
    return absl::InternalError(absl::StrCat("host probe: ", e.what()));
  }
  return host;
}

absl::StatusOr<v1::HostInfo> ProbeHost(const std::string& engine_path) {
  std::string command = absl::StrCat("'", engine_path, "' --probe-host");
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError(absl::StrCat("host probe: cannot run ", engine_path));
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int rc = pclose(pipe);
  if (rc != 0) return absl::InternalError(absl::StrCat("host probe: ", engine_path, " --probe-host failed (", rc, ")"));
  return ParseHostProbe(out);
}

}  // namespace vmd::daemon

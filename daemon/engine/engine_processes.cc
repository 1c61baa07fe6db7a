#include "daemon/engine/engine_processes.h"

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace vmd::daemon {
namespace {

// The exit monitor (backend/engine/exit_monitor.h) has the engine's command
// line too; it names itself so.
constexpr char kMonitorName[] = "vmd-engine-mon";

bool IsMonitor(const std::string& proc_dir) {
  std::ifstream in(proc_dir + "/comm");
  std::string comm;
  std::getline(in, comm);
  return comm == kMonitorName;
}

bool IsZombie(const std::string& proc_dir) {
  std::ifstream stat(proc_dir + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;  // gone meanwhile
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z';
}

}  // namespace

std::map<std::string, std::vector<pid_t>> FindEngineProcesses(const std::string& state_dir) {
  const std::string prefix = state_dir + "/vms/";
  const std::string suffix = "/config.json";
  std::map<std::string, std::vector<pid_t>> engines;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry.path().filename().string(), &pid)) continue;
    std::ifstream in(entry.path() / "cmdline");
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv = absl::StrSplit(cmdline, '\0');
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      const std::string& config = argv[i + 1];
      if (argv[i] != "--config" || !absl::StartsWith(config, prefix) || !absl::EndsWith(config, suffix)) continue;
      const std::string id = config.substr(prefix.size(), config.size() - prefix.size() - suffix.size());
      const std::string proc_dir = entry.path().string();
      if (id.empty() || id.find('/') != std::string::npos || IsZombie(proc_dir) || IsMonitor(proc_dir)) break;
      engines[id].push_back(pid);
      break;
    }
  }
  return engines;
}

}  // namespace vmd::daemon

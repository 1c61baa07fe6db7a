#include "daemon/engine/engine_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace vmd::daemon {
namespace {

namespace fs = std::filesystem;

bool Executable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

}  // namespace

absl::StatusOr<std::string> ResolveEnginePath(const std::string& requested) {
  std::error_code ec;
  if (!requested.empty()) {
    const fs::path path = fs::absolute(requested, ec).lexically_normal();
    if (!Executable(path)) return absl::NotFoundError(absl::StrCat("--engine: ", path.string(), " is not executable"));
    return path.string();
  }
  const fs::path beside = fs::read_symlink("/proc/self/exe", ec).parent_path() / "vmd-engine";
  if (Executable(beside)) return beside.string();
  const char* env_path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(env_path ? env_path : "", ':', absl::SkipEmpty())) {
    const fs::path candidate = fs::absolute(fs::path(std::string(dir)) / "vmd-engine", ec);
    if (Executable(candidate)) return candidate.string();
  }
  return absl::NotFoundError(absl::StrCat("no vmd-engine beside vmd (", beside.string(),
                                          ") or on $PATH; give one with --engine"));
}

}  // namespace vmd::daemon

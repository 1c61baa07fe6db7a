#include "backend/engine/sandbox_probe.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <functional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "backend/engine/sandbox.h"
#include "backend/engine/seccomp_allowlist.h"

namespace vmd::engine {
namespace {

using vmd::v1::SandboxLayer;
using vmd::v1::SandboxLayerKind;

struct LayerTrial {
  SandboxLayerKind kind;
  std::function<absl::Status()> apply;
};

// In the order the engine applies them: the mount namespace needs the
// capabilities the drop takes, and seccomp comes last.
std::vector<LayerTrial> Trials() {
  return {
      {vmd::v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS, SetNoNewPrivs},
      {vmd::v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE, [] { return EnterPrivateMountNamespace({}); }},
      {vmd::v1::SANDBOX_LAYER_KIND_CAPABILITIES, DropAllCapabilities},
      {vmd::v1::SANDBOX_LAYER_KIND_SECCOMP, LoadSeccompAllowList},
  };
}

std::string Detail(SandboxLayerKind kind) {
  switch (kind) {
    case vmd::v1::SANDBOX_LAYER_KIND_SECCOMP:
      return absl::StrCat(SeccompAllowedSyscalls(), " syscalls and ", SeccompAllowedIoctls(),
                          " ioctl requests allowed; any other kills the engine");
    case vmd::v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE:
      return "everything read-only but the engine's runtime dir; vmd's state dir hidden";
    case vmd::v1::SANDBOX_LAYER_KIND_CAPABILITIES:
      return "none left, bounding set included";
    default:
      return "";
  }
}

// The child: one line per layer, "<kind> <message>" (empty message: it
// applied). Only write and _exit after the filter is in: both are allowed.
[[noreturn]] void RunTrials(int out) {
  for (const LayerTrial& trial : Trials()) {
    absl::Status s = trial.apply();
    std::string line = absl::StrCat(static_cast<int>(trial.kind), " ", s.message(), "\n");
    // A layer that fails changes nothing the next ones need (an
    // unprivileged engine still gets no_new_privs and seccomp), so go on.
    if (write(out, line.data(), line.size()) < 0) _exit(1);
  }
  _exit(0);
}

}  // namespace

std::vector<SandboxLayer> ProbeSandboxLayers() {
  std::vector<SandboxLayer> layers;
  for (const LayerTrial& trial : Trials()) {
    SandboxLayer& layer = layers.emplace_back();
    layer.set_kind(trial.kind);
    layer.set_reason("not tried: the trial ended before it");
  }
  int fds[2];
  if (pipe(fds) != 0) {
    for (SandboxLayer& layer : layers) layer.set_reason("cannot try it: pipe failed");
    return layers;
  }
  std::fflush(nullptr);  // the child must not write the parent's buffers again
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    RunTrials(fds[1]);
  }
  close(fds[1]);
  std::string text;
  char buf[1024];
  ssize_t n;
  while (child > 0 && (n = read(fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  if (child > 0) waitpid(child, &status, 0);

  size_t i = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (i == layers.size()) break;
    absl::string_view message = line.substr(std::min(line.find(' ') + 1, line.size()));
    SandboxLayer& layer = layers[i++];
    layer.set_in_force(message.empty());
    layer.set_reason(std::string(message));
    if (message.empty()) layer.set_detail(Detail(layer.kind()));
  }
  if (i < layers.size() && WIFSIGNALED(status)) {
    layers[i].set_reason(absl::StrCat("the trial was killed by signal ", WTERMSIG(status), " while applying it"));
  }
  return layers;
}

}  // namespace vmd::engine

// vmd: the VM control-plane daemon. Serves vmd.v1 over a unix socket, keeps
// its state in SQLite under --state-dir, and supervises one vmd-engine per
// running VM. Engines outlive vmd; on start vmd re-attaches to them.
#include <signal.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/rpc/default_paths.h"
#include "daemon/host/host_inventory.h"
#include "daemon/store/state_dir.h"
#include "daemon/api/host_service.h"
#include "daemon/core/msr_audit.h"
#include "daemon/api/msr_service.h"
#include "daemon/api/pmu_service.h"
#include "daemon/api/probe_service.h"
#include "daemon/api/reflection_v1_service.h"
#include "daemon/core/vmd_core.h"
#include "daemon/engine/engine_path.h"
#include "daemon/api/unix_socket.h"
#include "daemon/engine/sandbox_plan.h"
#include "daemon/api/vm_service.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"

namespace {

namespace fs = std::filesystem;

int Fail(const std::string& message) {
  std::cerr << "vmd: " << message << "\n";
  return 1;
}

// The engine sandbox as flags and the host allow; logs every layer that is
// not in force, and why.
vmd::daemon::SandboxPlan PlanSandbox(bool no_sandbox, const std::string& cgroup_parent, const vmd::v1::HostInfo& host) {
  using vmd::daemon::EngineCgroups;
  if (no_sandbox) {
    std::cerr << "vmd: --no-sandbox: engines run unconfined, with vmd's environment, in vmd's cgroup\n";
    return vmd::daemon::SandboxPlan::Off();
  }
  absl::StatusOr<std::string> parent = cgroup_parent.empty() ? EngineCgroups::DefaultParent() : cgroup_parent;
  vmd::daemon::SandboxPlan plan = vmd::daemon::SandboxPlan::On(
      host.engine_sandbox().layers(),
      parent.ok() ? EngineCgroups(*parent) : EngineCgroups::Disabled(std::string(parent.status().message())));
  for (const vmd::v1::SandboxLayer& layer : plan.report().layers()) {
    if (!layer.in_force()) {
      std::cerr << "vmd: engine sandbox: " << vmd::v1::SandboxLayerKind_Name(layer.kind()) << " not in force: "
                << layer.reason() << "\n";
    }
  }
  return plan;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vmd: control plane for KVM virtual machines"};
  std::string state_dir = vmd::DefaultStateDir();
  std::string listen = "unix:" + vmd::DefaultSocketPath();
  std::string engine_path;
  std::string socket_group;
  double memory_overcommit = 1.0;
  uint32_t heartbeat_ms = 1000;
  bool no_sandbox = false;
  std::string engine_cgroup_parent;
  vmd::daemon::StreamOptions streams;
  uint32_t stream_stall_seconds = 30;
  uint32_t stream_grace_seconds = 5;
  app.add_option("--state-dir", state_dir, "state directory (SQLite store, VM runtime dirs)")->capture_default_str();
  app.add_option("--listen", listen, "API address, unix:PATH")->capture_default_str();
  app.add_option("--engine", engine_path, "path of vmd-engine (default: next to vmd, else on $PATH)");
  app.add_option("--socket-group", socket_group, "group that may use the API socket (mode 0660)")
      ->envname("VMD_SOCKET_GROUP");
  app.add_option("--memory-overcommit", memory_overcommit,
                 "guest memory of running VMs may add up to host memory times this")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 100.0));
  app.add_option("--heartbeat-ms", heartbeat_ms, "period of the counter workload's console heartbeat")
      ->capture_default_str()
      ->check(CLI::Range(10u, 3600000u));
  app.add_flag("--no-sandbox", no_sandbox,
               "run engines without the sandbox (seccomp, capabilities, mount namespace, cgroup, clean "
               "environment): for debugging");
  app.add_option("--engine-cgroup-parent", engine_cgroup_parent,
                 "cgroup v2 directory under which each engine gets <vm id> (default: <vmd's cgroup>/vmd-engines)");
  app.add_option("--max-streams", streams.max_streams, "WatchEvents and StreamConsole streams open at once, in all")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--max-streams-per-client", streams.max_streams_per_client,
                 "streams one client (one host; every unix-socket client together) may have open")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1000000u));
  app.add_option("--stream-stall-seconds", stream_stall_seconds,
                 "a stream whose client takes nothing for this long ends with RESOURCE_EXHAUSTED and where to resume")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  app.add_option("--stream-grace-seconds", stream_grace_seconds,
                 "a stream ended so (or otherwise finished) whose client still takes nothing is cancelled this "
                 "much later, freeing its place")
      ->capture_default_str()
      ->check(CLI::Range(1u, 86400u));
  CLI11_PARSE(app, argc, argv);
  streams.pump.stall_timeout = std::chrono::seconds(stream_stall_seconds);
  streams.pump.finish_grace = std::chrono::seconds(stream_grace_seconds);

  // SIGTERM and SIGINT are taken by one thread with sigwait (below). Block
  // them before any thread exists, so that every thread inherits the mask and
  // none dies of the default action.
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigaddset(&term, SIGINT);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);

  // Nothing vmd or its engines create is for other users.
  umask(vmd::daemon::kVmdUmask);
  absl::StatusOr<std::string> socket = vmd::daemon::UnixSocketPath(listen);
  if (!socket.ok()) return Fail(std::string(socket.status().message()));
  const std::string socket_path = fs::absolute(*socket).lexically_normal().string();
  absl::StatusOr<std::string> engine = vmd::daemon::ResolveEnginePath(engine_path);
  if (!engine.ok()) return Fail(std::string(engine.status().message()));
  engine_path = *engine;
  state_dir = fs::absolute(state_dir).lexically_normal().string();
  // The longest path under the state dir is a VM's engine socket.
  if (state_dir.size() + sizeof("/vms/0123456789abcdef/engine.sock") > sizeof(sockaddr_un::sun_path)) {
    return Fail(absl::StrCat("--state-dir: \"", state_dir, "\" is too long for the engines' unix sockets (at most ",
                             sizeof(sockaddr_un::sun_path) - sizeof("/vms/0123456789abcdef/engine.sock"),
                             " characters)"));
  }

  std::error_code ec;
  if (absl::Status s = vmd::daemon::PrepareStateDir(state_dir); !s.ok()) {
    return Fail(absl::StrCat("--state-dir: ", s.message()));
  }
  // One vmd per state dir. A vmd restarted right after a crash waits a
  // moment: a child its predecessor forked holds the lock until it execs
  // (O_CLOEXEC closes it only then).
  int lock_fd = open((state_dir + "/vmd.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  bool locked = lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
  for (int i = 0; lock_fd >= 0 && !locked && i < 40; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    locked = flock(lock_fd, LOCK_EX | LOCK_NB) == 0;
  }
  if (!locked) return Fail(absl::StrCat("another vmd is using the state dir ", state_dir));

  absl::StatusOr<vmd::v1::HostInfo> host = vmd::daemon::ProbeHost(engine_path);
  if (!host.ok()) return Fail(std::string(host.status().message()));
  host->mutable_limits()->set_memory_overcommit(memory_overcommit);

  vmd::daemon::SandboxPlan sandbox = PlanSandbox(no_sandbox, engine_cgroup_parent, *host);
  *host->mutable_engine_sandbox() = sandbox.report();
  auto core = vmd::daemon::VmdCore::Open(
      {.state_dir = state_dir, .engine_path = engine_path, .heartbeat_ms = heartbeat_ms, .sandbox = std::move(sandbox)},
      *host);
  if (!core.ok()) return Fail(std::string(core.status().message()));

  vmd::daemon::VmServiceImpl vm_service((*core)->lifecycle(), (*core)->records().events(), streams);
  vmd::daemon::HostServiceImpl host_service(*host);
  vmd::daemon::ProbeServiceImpl probe_service((*core)->probes());
  vmd::daemon::MsrServiceImpl msr_service((*core)->msr());
  vmd::daemon::PmuServiceImpl pmu_service(*host);
  vmd::daemon::MsrAudit msr_audit((*core)->records(), (*core)->engine_clients());
  // Generic tools find every service: health checking by service name
  // (each vmd.v1 service, and "" for the server), reflection v1alpha (gRPC's
  // plugin) and v1 (ours: Debian's gRPC has only v1alpha).
  const std::vector<std::string> vmd_services = {
      vmd::v1::VmService::service_full_name(), vmd::v1::HostService::service_full_name(),
      vmd::v1::ProbeService::service_full_name(), vmd::v1::MsrService::service_full_name(),
      vmd::v1::PmuService::service_full_name()};
  std::vector<std::string> listed = vmd_services;
  listed.insert(listed.end(), {"grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection",
                               grpc::reflection::v1::ServerReflection::service_full_name()});
  vmd::daemon::ReflectionV1Service reflection_v1(listed);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  if (absl::Status s = vmd::daemon::ClaimSocketPath(socket_path); !s.ok()) return Fail(std::string(s.message()));
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  builder.RegisterService(&vm_service);
  builder.RegisterService(&host_service);
  builder.RegisterService(&probe_service);
  builder.RegisterService(&msr_service);
  builder.RegisterService(&pmu_service);
  builder.RegisterService(&reflection_v1);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return Fail(absl::StrCat("cannot listen on ", listen));
  for (const std::string& name : vmd_services) server->GetHealthCheckService()->SetServingStatus(name, true);
  if (absl::Status s = vmd::daemon::ShareSocket(socket_path, socket_group); !s.ok()) {
    server->Shutdown();
    fs::remove(socket_path, ec);
    return Fail(std::string(s.message()));
  }

  std::cerr << "vmd " << VMD_VERSION << ": listening on unix:" << socket_path << ", state in " << state_dir
            << ", engine " << engine_path << ", "
            << (*core)->records().registry().size() << " VM(s), auto backend " << host->auto_backend() << "\n";

  // SIGTERM/SIGINT end vmd; engines keep running and are re-attached later.
  std::thread([&] {
    int sig = 0;
    sigwait(&term, &sig);
    std::cerr << "vmd: signal " << sig << ", shutting down (engines keep running)\n";
    // Streams never end by themselves: end them, so that Shutdown returns
    // as soon as unary calls are answered (they get up to 2 s). Shutdown
    // first tells every connection it is going away (GOAWAY and its ping);
    // the streams end just after, so that their clients, still reading,
    // answer it -- a connection whose client has stopped polling is waited
    // for until the deadline.
    std::thread ender([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      vm_service.EndStreams();
    });
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    ender.join();
  }).detach();
  server->Wait();
  fs::remove(socket_path, ec);
  return 0;
}

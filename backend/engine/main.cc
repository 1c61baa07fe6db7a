// vmd-engine: runs one VM. Started by vmd in its own session with
// --config <runtime_dir>/config.json --ready-fd N, or standalone by hand or
// by tests. Exit status: 0 when the VM stopped, 2 when the guest crashed,
// 3 when the VM could not be built; <runtime_dir>/exit.json (an ExitRecord)
// says why.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <iostream>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "backend/engine/engine_config.h"
#include "backend/engine/engine_service.h"
#include "backend/engine/exit_monitor.h"
#include "backend/engine/host_probe.h"
#include "backend/engine/sandbox.h"
#include "backend/engine/vm_runner.h"
#include "backend/rpc/proto_json.h"
#include "grpcpp/grpcpp.h"
#include "vmd/engine/v1/exit_record.pb.h"

namespace {

using vmd::engine::EngineConfig;
using vmd::engine::RunnerStatus;
using vmd::engine::RunState;
namespace ev1 = vmd::engine::v1;

constexpr int kExitStopped = 0;
constexpr int kExitCrashed = 2;
constexpr int kExitBuildFailed = 3;

// Written atomically so vmd never reads half a file.
void WriteExitFile(const EngineConfig& config, ev1::ExitKind kind, const std::string& reason, int exit_code,
                   const std::string& register_dump = "") {
  ev1::ExitRecord record;
  record.set_api_version(ev1::API_VERSION_1);
  record.set_kind(kind);
  record.set_reason(reason);
  record.set_register_dump(register_dump);
  record.set_exit_code(exit_code);
  const std::string path = vmd::engine::ExitPath(config);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << vmd::rpc::ToJson(record) << "\n";
  }
  std::rename(tmp.c_str(), path.c_str());
}

void SignalReady(int fd) {
  if (fd < 0) return;
  char byte = 1;
  // Not perror: it dup()s stderr, a syscall the sandbox does not allow.
  if (write(fd, &byte, 1) != 1) {
    std::cerr << "vmd-engine: ready fd (vmd gone? running on): " << strerror(errno) << "\n";
  }
  close(fd);
}

int Fail(const EngineConfig& config, const std::string& reason) {
  std::cerr << "vmd-engine: " << reason << "\n";
  WriteExitFile(config, ev1::EXIT_KIND_FAILED, reason, kExitBuildFailed);
  return kExitBuildFailed;
}

int Run(const EngineConfig& config, int ready_fd) {
  // vmd may be gone by the time the engine writes its ready byte (or later
  // answers on a socket vmd dropped): EPIPE is an error to report, never a
  // reason to die -- engines outlive vmd at every moment.
  signal(SIGPIPE, SIG_IGN);
  std::error_code ec;
  std::filesystem::remove(vmd::engine::ExitPath(config), ec);

  // While the engine has one thread (see sandbox.h): every thread it starts
  // later inherits the namespace, the empty capability sets and
  // no_new_privs.
  if (absl::Status s = vmd::engine::EnterSandbox(config.sandbox(), vmd::engine::MountsFor(config)); !s.ok()) {
    return Fail(config, absl::StrCat("sandbox: ", s.message()));
  }

  // Termination signals are taken by one thread with sigwait; block them in
  // every thread (vCPU threads inherit the mask) before any is created.
  sigset_t term;
  sigemptyset(&term);
  for (int s : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&term, s);
  pthread_sigmask(SIG_BLOCK, &term, nullptr);

  auto runner = vmd::engine::VmRunner::Create(config);
  if (!runner.ok()) return Fail(config, std::string(runner.status().message()));

  vmd::engine::EngineService service(config.vm_id(), runner->get());
  std::filesystem::remove(vmd::engine::SocketPath(config), ec);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + vmd::engine::SocketPath(config), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  // One VM, one client (vmd): keep the engine's threads and memory small.
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 2);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) return Fail(config, "cannot listen on unix:" + vmd::engine::SocketPath(config));
  chmod(vmd::engine::SocketPath(config).c_str(), 0600);

  // Last: the VM is built and the socket bound, so from here on the engine
  // needs only the syscalls of a running VM (seccomp_allowlist.cc).
  if (absl::Status s = vmd::engine::LockSandbox(config.sandbox()); !s.ok()) {
    return Fail(config, absl::StrCat("sandbox: ", s.message()));
  }

  if (absl::Status s = (*runner)->Start(); !s.ok()) return Fail(config, std::string(s.message()));
  SignalReady(ready_fd);

  std::thread([&term, r = runner->get()] {
    int sig = 0;
    sigwait(&term, &sig);
    // Like a host shutdown: the guest gets a short chance, then it is off.
    (void)r->Stop(std::chrono::seconds(2), /*force=*/false);
  }).detach();

  (*runner)->WaitUntilDone();
  RunnerStatus status = (*runner)->Status();
  // Let an in-flight Stop RPC return its answer before the socket goes away.
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  std::filesystem::remove(vmd::engine::SocketPath(config), ec);

  const bool crashed = status.state == RunState::kCrashed;
  const int code = crashed ? kExitCrashed : kExitStopped;
  WriteExitFile(config, crashed ? ev1::EXIT_KIND_CRASHED : ev1::EXIT_KIND_STOPPED,
                crashed ? status.crash_reason : "VM stopped", code, status.register_dump);
  return code;
}

}  // namespace

#ifdef VMD_SANITIZER_RUNTIME
// LeakSanitizer checks at exit by stopping the world from a ptrace helper
// process, which the seccomp filter forbids (and the engine's environment
// is cleaned, so ASAN_OPTIONS cannot say it): no leak check in engines.
extern "C" const char* __asan_default_options() { return "detect_leaks=0"; }
#endif

int main(int argc, char** argv) {
  CLI::App app{"vmd-engine: runs one VM for vmd (or standalone from a JSON config)"};
  std::string config_path;
  int ready_fd = -1;
  bool probe_host = false;
  std::string exit_status_file;
  app.add_option("--config", config_path, "VM config (JSON)")->check(CLI::ExistingFile);
  app.add_option("--ready-fd", ready_fd, "fd to write one byte to once the VM runs and the API serves");
  app.add_option("--exit-status-file", exit_status_file,
                 "fork an exit monitor that writes how the engine ended here (and the engine's pid to --ready-fd)");
  app.add_flag("--probe-host", probe_host, "print what this host offers (JSON) and exit");
  CLI11_PARSE(app, argc, argv);

  if (probe_host) {
    std::cout << vmd::engine::ProbeHostJson() << "\n";
    return 0;
  }
  if (config_path.empty()) {
    std::cerr << "vmd-engine: --config is required (or --probe-host)\n";
    return 64;
  }
  if (!exit_status_file.empty()) vmd::engine::ForkExitMonitor(exit_status_file, ready_fd);
  auto config = vmd::engine::LoadEngineConfig(config_path);
  if (!config.ok()) {
    std::cerr << "vmd-engine: " << config.status().message() << "\n";
    return 64;
  }
  return Run(*config, ready_fd);
}

#include "tests/integration/daemon_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include "daemon/engine/engine_cgroup.h"
#include "grpcpp/grpcpp.h"

extern char** environ;

namespace vmd::testing {

using std::chrono::milliseconds;

DaemonProcess::DaemonProcess(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
  // Short: engine sockets live under it and unix socket paths are limited.
  char tmpl[] = "/tmp/vmdit-XXXXXX";
  dir_ = mkdtemp(tmpl);
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) Kill(SIGKILL);
  // Engines run in their own sessions: end every one this test started.
  std::string cmd = "pkill -9 -f '" + dir_ + "/state/vms/' 2>/dev/null";
  if (std::system(cmd.c_str()) < 0) perror("pkill");
  // vmd, killed first, cannot remove their cgroups: do it for it.
  std::error_code ec;
  if (absl::StatusOr<std::string> parent = daemon::EngineCgroups::DefaultParent(); parent.ok()) {
    for (const auto& vm : std::filesystem::directory_iterator(state_dir() + "/vms", ec)) {
      daemon::RemoveEngineCgroup(*parent + "/" + vm.path().filename().string());
    }
  }
  std::filesystem::remove_all(dir_, ec);
}

void DaemonProcess::SetEnv(const std::string& name, const std::string& value) {
  if (value.empty()) {
    env_.erase(name);
  } else {
    env_[name] = value;
  }
}

void DaemonProcess::Launch() {
  std::vector<std::string> args = {VMD_PATH, "--state-dir", state_dir(), "--listen", address(),
                                   "--engine", VMD_ENGINE_PATH};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  std::string log = dir_ + "/vmd.log";
  posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!env_.contains(entry.substr(0, entry.find('=')))) env.push_back(entry);
  }
  for (const auto& [name, value] : env_) env.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  ASSERT_EQ(posix_spawn(&pid_, VMD_PATH, &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
}

void DaemonProcess::Start() {
  Launch();
  std::string log = dir_ + "/vmd.log";
  // Serving once GetHostInfo answers.
  for (int i = 0; i < 500; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(200));
    v1::HostInfo info;
    if (std::filesystem::exists(dir_ + "/vmd.sock") && host()->GetHostInfo(&ctx, {}, &info).ok()) return;
    int status;
    ASSERT_EQ(waitpid(pid_, &status, WNOHANG), 0) << "vmd exited at start; see " << log;
    std::this_thread::sleep_for(milliseconds(10));
  }
  FAIL() << "vmd did not serve within 5 s";
}

int DaemonProcess::Kill(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  return Wait();
}

int DaemonProcess::Wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return status;
}

std::shared_ptr<grpc::Channel> DaemonProcess::channel() {
  return grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
}
std::unique_ptr<v1::VmService::Stub> DaemonProcess::vms() { return v1::VmService::NewStub(channel()); }
std::unique_ptr<v1::HostService::Stub> DaemonProcess::host() { return v1::HostService::NewStub(channel()); }

std::string DaemonProcess::KvmUnusableReason() {
  grpc::ClientContext ctx;
  v1::HostInfo info;
  grpc::Status s = host()->GetHostInfo(&ctx, {}, &info);
  if (!s.ok()) return "GetHostInfo failed: " + s.error_message();
  for (const v1::BackendInfo& b : info.backends()) {
    if (b.name() == "kvm") return b.usable() ? "" : b.reason();
  }
  return "vmd reports no kvm backend";
}

int DaemonProcess::Vmctl(const std::string& args, std::string* out, std::string* err) const {
  std::string err_path = dir_ + "/vmctl.err";
  std::string cmd = std::string(VMCTL_PATH) + " --address " + address() + " " + args + " 2>" + err_path;
  FILE* p = popen(cmd.c_str(), "r");
  std::string text;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) text.append(buf, n);
  int status = pclose(p);
  if (out) *out = text;
  if (err) {
    std::ifstream in(err_path);
    std::stringstream s;
    s << in.rdbuf();
    *err = s.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

v1::VmSpec SmallSpec(const std::string& name, v1::Backend backend, const std::string& workload) {
  v1::VmSpec spec;
  spec.set_name(name);
  spec.set_vcpus(1);
  spec.set_memory_mib(32);
  spec.set_backend(backend);
  spec.set_workload(workload);
  return spec;
}

bool WaitForState(v1::VmService::Stub* vms, const std::string& name, v1::VmState state) {
  for (int i = 0; i < 1000; ++i) {
    grpc::ClientContext ctx;
    v1::GetVmRequest req;
    req.set_name(name);
    v1::Vm vm;
    if (vms->GetVm(&ctx, req, &vm).ok() && vm.status().state() == state) return true;
    std::this_thread::sleep_for(milliseconds(10));
  }
  return false;
}

}  // namespace vmd::testing

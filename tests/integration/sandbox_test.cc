// A real vmd starts real engines inside the sandbox: each engine's
// /proc/<pid> shows no_new_privs, a seccomp filter, no capabilities, none of
// vmd's environment, a mount namespace of its own with / read-only, and a
// cgroup of its own with the VM's limits where the host can limit; with
// --no-sandbox none of it. On kvm and on sim.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "daemon/engine/engine_cgroup.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

// Set in vmd's environment; a sandboxed engine must not see it.
constexpr char kMarker[] = "VMD_SANDBOX_TEST_MARKER";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Seccomp:\t2" -> "2".
std::string StatusField(pid_t pid, const std::string& field) {
  std::istringstream in(ReadFile(absl::StrCat("/proc/", pid, "/status")));
  for (std::string line; std::getline(in, line);) {
    if (absl::StartsWith(line, field + ":")) return std::string(absl::StripAsciiWhitespace(line.substr(field.size() + 1)));
  }
  return "";
}

std::string Link(const std::string& path) {
  std::error_code ec;
  return std::filesystem::read_symlink(path, ec).string();
}

// The cgroup v2 mount point as the test sees it ("" if none).
std::string Cgroup2Mount() { return daemon::Cgroup2Mount().value_or(""); }

// The mount options of `mount_point` in `pid`'s mount namespace.
std::string MountOptions(pid_t pid, const std::string& mount_point) {
  std::istringstream in(ReadFile(absl::StrCat("/proc/", pid, "/mountinfo")));
  std::string options;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    if (f.size() > 5 && f[4] == mount_point) options = f[5];  // the last one is the top mount
  }
  return options;
}

const v1::SandboxLayer* Layer(const v1::HostInfo& host, v1::SandboxLayerKind kind) {
  for (const v1::SandboxLayer& l : host.engine_sandbox().layers()) {
    if (l.kind() == kind) return &l;
  }
  return nullptr;
}

class SandboxTest : public ::testing::TestWithParam<v1::Backend> {
 protected:
  void StartDaemon(std::vector<std::string> extra_args) {
    daemon_ = std::make_unique<DaemonProcess>(std::move(extra_args));
    setenv(kMarker, "leaked", 1);
    daemon_->Start();
    unsetenv(kMarker);
    if (GetParam() == v1::BACKEND_KVM) {
      if (std::string why = daemon_->KvmUnusableReason(); !why.empty()) GTEST_SKIP() << "kvm is not usable here: " << why;
      std::cout << "[kvm] ran on real KVM" << std::endl;
    }
    grpc::ClientContext ctx;
    ASSERT_TRUE(daemon_->host()->GetHostInfo(&ctx, {}, &host_).ok());
  }

  // Creates and starts a 2-vCPU, 48 MiB counter VM; returns it running.
  v1::Vm StartVm(const std::string& name) {
    v1::VmSpec spec = SmallSpec(name, GetParam(), "counter");
    spec.set_vcpus(2);
    spec.set_memory_mib(48);
    auto stub = daemon_->vms();
    v1::CreateVmRequest create;
    *create.mutable_spec() = spec;
    v1::Vm vm;
    {
      grpc::ClientContext ctx;
      grpc::Status s = stub->CreateVm(&ctx, create, &vm);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    v1::StartVmRequest start;
    start.set_name(name);
    grpc::ClientContext ctx;
    grpc::Status s = stub->StartVm(&ctx, start, &vm);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return vm;
  }

  // Forced: a guest asked to power off before its firmware is up would hold
  // the stop for its whole timeout.
  void StopVm(const std::string& name) {
    v1::StopVmRequest stop;
    stop.set_name(name);
    stop.set_force(true);
    v1::Vm vm;
    grpc::ClientContext ctx;
    ASSERT_TRUE(daemon_->vms()->StopVm(&ctx, stop, &vm).ok());
    EXPECT_EQ(vm.status().state(), v1::VM_STATE_STOPPED);
  }

  std::unique_ptr<DaemonProcess> daemon_;
  v1::HostInfo host_;
};

TEST_P(SandboxTest, EngineRunsConfined) {
  StartDaemon({"--heartbeat-ms", "50"});
  if (IsSkipped()) return;
  ASSERT_TRUE(host_.engine_sandbox().enabled());
  const v1::Vm vm = StartVm("jailed");
  const pid_t engine = vm.status().engine_pid();
  ASSERT_GT(engine, 0);
  ASSERT_EQ(vm.status().state(), v1::VM_STATE_RUNNING);

  // no_new_privs, seccomp in filter mode, no capability in any set.
  EXPECT_EQ(StatusField(engine, "NoNewPrivs"), "1");
  EXPECT_EQ(StatusField(engine, "Seccomp"), "2");
  for (const char* set : {"CapEff", "CapPrm", "CapInh", "CapBnd", "CapAmb"}) {
    EXPECT_EQ(StatusField(engine, set), "0000000000000000") << set;
  }
  // Every thread, not only the main one (the filter is synchronised).
  for (const auto& task : std::filesystem::directory_iterator(absl::StrCat("/proc/", engine, "/task"))) {
    std::string status = ReadFile(task.path().string() + "/status");
    EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << task.path();
    EXPECT_NE(status.find("CapEff:\t0000000000000000"), std::string::npos) << task.path();
  }

  // vmd had the marker; the engine has no environment at all.
  EXPECT_NE(ReadFile(absl::StrCat("/proc/", daemon_->pid(), "/environ")).find(kMarker), std::string::npos);
  const std::string environ = ReadFile(absl::StrCat("/proc/", engine, "/environ"));
  EXPECT_EQ(environ.find(kMarker), std::string::npos);
  EXPECT_EQ(environ, "");

  // A mount namespace of its own: / read-only, the runtime dir writable.
  EXPECT_NE(Link(absl::StrCat("/proc/", engine, "/ns/mnt")), Link(absl::StrCat("/proc/", daemon_->pid(), "/ns/mnt")));
  const std::string runtime_dir = daemon_->state_dir() + "/vms/" + vm.id();
  EXPECT_TRUE(absl::StartsWith(MountOptions(engine, "/"), "ro")) << MountOptions(engine, "/");
  EXPECT_TRUE(absl::StartsWith(MountOptions(engine, runtime_dir), "rw")) << MountOptions(engine, runtime_dir);
  EXPECT_TRUE(absl::StartsWith(MountOptions(daemon_->pid(), "/"), "rw")) << "the host's / became read-only";
  // vmd's state dir is hidden from it, but for its own runtime dir.
  const std::string engine_root = absl::StrCat("/proc/", engine, "/root");
  EXPECT_TRUE(std::filesystem::exists(daemon_->state_dir() + "/vmd.db"));
  EXPECT_FALSE(std::filesystem::exists(engine_root + daemon_->state_dir() + "/vmd.db"));
  EXPECT_TRUE(std::filesystem::exists(engine_root + runtime_dir + "/engine.sock"));

  // A cgroup of its own, named after the VM, with its limits where the host
  // can limit.
  std::string cgroup = ReadFile(absl::StrCat("/proc/", engine, "/cgroup"));
  const size_t v2 = cgroup.find("0::");
  ASSERT_NE(v2, std::string::npos) << cgroup;
  cgroup = std::string(absl::StripAsciiWhitespace(cgroup.substr(v2 + 3)));
  const v1::SandboxLayer* layer = Layer(host_, v1::SANDBOX_LAYER_KIND_CGROUP);
  ASSERT_NE(layer, nullptr);
  const std::string cgroup_dir = Cgroup2Mount() + cgroup;
  if (!Cgroup2Mount().empty() && !absl::StrContains(layer->reason(), "cannot create")) {
    EXPECT_TRUE(absl::EndsWith(cgroup, "/vmd-engines/" + vm.id())) << cgroup;
  }
  if (layer->in_force()) {
    EXPECT_EQ(ReadFile(cgroup_dir + "/memory.max"), absl::StrCat((48 + 64) << 20, "\n"));
    EXPECT_EQ(ReadFile(cgroup_dir + "/cpu.max"), "200000 100000\n");
  } else {
    EXPECT_FALSE(layer->reason().empty());
    std::cout << "[sandbox] cgroup limits not in force here: " << layer->reason() << std::endl;
  }

  // The VM works inside it: the counter moves, pause, resume and stop.
  auto stub = daemon_->vms();
  v1::PauseVmRequest pause;
  pause.set_name("jailed");
  v1::Vm paused;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->PauseVm(&ctx, pause, &paused).ok());
  }
  v1::ResumeVmRequest resume;
  resume.set_name("jailed");
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->ResumeVm(&ctx, resume, &paused).ok());
  }
  StopVm("jailed");
  // The engine's cgroup goes with it.
  if (absl::EndsWith(cgroup, "/vmd-engines/" + vm.id())) {
    for (int i = 0; i < 200 && std::filesystem::exists(cgroup_dir); ++i) usleep(10000);
    EXPECT_FALSE(std::filesystem::exists(cgroup_dir));
  }
}

TEST_P(SandboxTest, NoSandboxLeavesEngineAsVmdsChild) {
  StartDaemon({"--heartbeat-ms", "50", "--no-sandbox"});
  if (IsSkipped()) return;
  EXPECT_FALSE(host_.engine_sandbox().enabled());
  for (const v1::SandboxLayer& layer : host_.engine_sandbox().layers()) {
    EXPECT_FALSE(layer.in_force()) << v1::SandboxLayerKind_Name(layer.kind());
    EXPECT_EQ(layer.reason(), "vmd --no-sandbox");
  }
  const v1::Vm vm = StartVm("free");
  const pid_t engine = vm.status().engine_pid();
  ASSERT_GT(engine, 0);
  EXPECT_EQ(StatusField(engine, "Seccomp"), "0");
  EXPECT_EQ(StatusField(engine, "NoNewPrivs"), "0");
  EXPECT_EQ(StatusField(engine, "CapEff"), StatusField(daemon_->pid(), "CapEff"));
  EXPECT_NE(ReadFile(absl::StrCat("/proc/", engine, "/environ")).find(kMarker), std::string::npos);
  EXPECT_EQ(Link(absl::StrCat("/proc/", engine, "/ns/mnt")), Link(absl::StrCat("/proc/", daemon_->pid(), "/ns/mnt")));
  EXPECT_EQ(ReadFile(absl::StrCat("/proc/", engine, "/cgroup")), ReadFile(absl::StrCat("/proc/", daemon_->pid(), "/cgroup")));

  std::string out;
  ASSERT_EQ(daemon_->Vmctl("host", &out), 0);
  EXPECT_NE(out.find("engine sandbox (off: vmd --no-sandbox)"), std::string::npos) << out;
  StopVm("free");
}

TEST(SandboxHostTest, VmctlHostShowsEveryLayer) {
  DaemonProcess daemon;
  daemon.Start();
  v1::HostInfo host;
  grpc::ClientContext ctx;
  ASSERT_TRUE(daemon.host()->GetHostInfo(&ctx, {}, &host).ok());
  std::string out;
  ASSERT_EQ(daemon.Vmctl("host", &out), 0);
  EXPECT_NE(out.find("engine sandbox (on):"), std::string::npos) << out;
  for (const char* name : {"no-new-privs", "seccomp", "capabilities", "clean-environment", "cgroup", "mount-namespace"}) {
    EXPECT_NE(out.find(absl::StrCat("  ", name, " ")), std::string::npos) << name << " in\n" << out;
  }
  // As root on Linux, every engine-side layer is in force.
  if (geteuid() == 0) {
    for (v1::SandboxLayerKind kind : {v1::SANDBOX_LAYER_KIND_NO_NEW_PRIVS, v1::SANDBOX_LAYER_KIND_SECCOMP,
                                      v1::SANDBOX_LAYER_KIND_CAPABILITIES, v1::SANDBOX_LAYER_KIND_MOUNT_NAMESPACE,
                                      v1::SANDBOX_LAYER_KIND_CLEAN_ENVIRONMENT}) {
      const v1::SandboxLayer* layer = Layer(host, kind);
      ASSERT_NE(layer, nullptr) << v1::SandboxLayerKind_Name(kind);
      EXPECT_TRUE(layer->in_force()) << v1::SandboxLayerKind_Name(kind) << ": " << layer->reason();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SandboxTest, ::testing::Values(v1::BACKEND_SIM, v1::BACKEND_KVM),
                         [](const auto& info) { return info.param == v1::BACKEND_SIM ? "sim" : "kvm"; });

}  // namespace
}  // namespace vmd::testing

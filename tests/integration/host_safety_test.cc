// What vmd does to the host it runs on: its files are private whatever the
// umask, `--listen` takes only a stale socket (never a file, never another
// vmd's socket), `--socket-group` shares the socket, admission control keeps
// guest memory within the host's, and a full disk is named, not INTERNAL.
#include <grp.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

mode_t Mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Runs vmd with `args` to its end (it is meant to refuse them); its exit
// code, and its stderr in `err`.
int RunVmdToTheEnd(const std::string& args, std::string* err) {
  const std::string cmd = std::string(VMD_PATH) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  err->clear();
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) err->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

grpc::Status CreateAndStart(DaemonProcess& vmd, const std::string& name, uint64_t memory_mib, v1::Vm* vm) {
  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec(name);
  create.mutable_spec()->set_memory_mib(memory_mib);
  grpc::ClientContext create_ctx;
  if (grpc::Status s = vmd.vms()->CreateVm(&create_ctx, create, vm); !s.ok()) return s;
  grpc::ClientContext start_ctx;
  v1::StartVmRequest start;
  start.set_name(name);
  return vmd.vms()->StartVm(&start_ctx, start, vm);
}

TEST(HostSafetyTest, StateFilesArePrivateWhateverTheUmask) {
  const mode_t old = umask(0);
  DaemonProcess vmd;
  vmd.Start();
  umask(old);
  v1::Vm vm;
  ASSERT_TRUE(CreateAndStart(vmd, "a", 32, &vm).ok());
  const std::string state = vmd.state_dir();
  const std::string runtime = state + "/vms/" + vm.id();
  EXPECT_EQ(Mode(state), 0700u);
  EXPECT_EQ(Mode(state + "/vms"), 0700u);
  EXPECT_EQ(Mode(runtime), 0700u);
  EXPECT_EQ(Mode(state + "/vmd.db"), 0600u);
  EXPECT_EQ(Mode(state + "/vmd.db-wal"), 0600u);
  EXPECT_EQ(Mode(runtime + "/config.json"), 0600u);
  for (const std::string file : {"/console.log", "/engine.log"}) {
    EXPECT_EQ(Mode(runtime + file) & 0027, 0u) << file << " is writable by the group or readable by others";
  }
  EXPECT_EQ(Mode(vmd.dir() + "/vmd.sock"), 0660u);
}

TEST(HostSafetyTest, ListenTakesOnlyAStaleSocket) {
  DaemonProcess first;
  first.Start();
  const std::string db = first.state_dir() + "/vmd.db";
  const auto db_size = std::filesystem::file_size(db);
  char tmpl[] = "/tmp/vmdsafe-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string base = "--state-dir " + dir + "/state --engine " + VMD_ENGINE_PATH;
  std::string err;

  EXPECT_EQ(RunVmdToTheEnd(base + " --listen unix:", &err), 1);
  EXPECT_NE(err.find("unix: needs a path"), std::string::npos) << err;
  EXPECT_EQ(RunVmdToTheEnd(base + " --listen unix:" + db, &err), 1);
  EXPECT_NE(err.find("is not a socket"), std::string::npos) << err;
  EXPECT_EQ(std::filesystem::file_size(db), db_size) << "the other vmd's store is intact";
  EXPECT_EQ(RunVmdToTheEnd(base + " --listen " + first.address(), &err), 1);
  EXPECT_NE(err.find("answers on"), std::string::npos) << err;
  grpc::ClientContext ctx;
  v1::HostInfo info;
  EXPECT_TRUE(first.host()->GetHostInfo(&ctx, {}, &info).ok()) << "the first vmd still serves";
  std::filesystem::remove_all(dir);
}

TEST(HostSafetyTest, AStaleSocketIsReplacedAndTheGroupGetsIt) {
  const struct group* daemon_group = getgrnam("daemon");
  if (daemon_group == nullptr) GTEST_SKIP() << "this host has no group named daemon to share the socket with";
  DaemonProcess vmd({"--heartbeat-ms", "50", "--socket-group", "daemon"});
  // A socket left by a vmd that died: bound, nobody listening.
  const std::string path = vmd.dir() + "/vmd.sock";
  const int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  vmd.Start();
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_gid, daemon_group->gr_gid);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST(HostSafetyTest, AdmissionKeepsGuestMemoryWithinTheHosts) {
  DaemonProcess vmd({"--heartbeat-ms", "50", "--memory-overcommit", "0.1"});
  vmd.Start();
  grpc::ClientContext ctx;
  v1::HostInfo info;
  ASSERT_TRUE(vmd.host()->GetHostInfo(&ctx, {}, &info).ok());
  EXPECT_DOUBLE_EQ(info.limits().memory_overcommit(), 0.1);
  const uint64_t capacity = static_cast<uint64_t>(static_cast<double>(info.limits().max_memory_mib()) * 0.1);
  v1::Vm big, second;
  ASSERT_TRUE(CreateAndStart(vmd, "big", capacity - 16, &big).ok());
  grpc::Status refused = CreateAndStart(vmd, "second", 32, &second);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("memory_overcommit"), std::string::npos) << refused.error_message();
  grpc::ClientContext get_ctx;
  v1::GetVmRequest get;
  get.set_name("second");
  ASSERT_TRUE(vmd.vms()->GetVm(&get_ctx, get, &second).ok());
  EXPECT_EQ(second.status().state(), v1::VM_STATE_CREATED) << "a refused start changes nothing";
  grpc::ClientContext stop_ctx;
  v1::StopVmRequest stop;
  stop.set_name("big");
  stop.set_force(true);
  ASSERT_TRUE(vmd.vms()->StopVm(&stop_ctx, stop, &big).ok());
  grpc::ClientContext start_ctx;
  v1::StartVmRequest start;
  start.set_name("second");
  EXPECT_TRUE(vmd.vms()->StartVm(&start_ctx, start, &second).ok()) << "room again";
}

TEST(HostSafetyTest, AFullDiskIsNamedNotInternal) {
  DaemonProcess vmd;
  const std::string state = vmd.state_dir();
  std::filesystem::create_directories(state);
  if (mount("tmpfs", state.c_str(), "tmpfs", 0, "size=2m") != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (" << std::strerror(errno) << ")";
  }
  vmd.Start();
  {
    std::ofstream fill(state + "/filler", std::ios::binary);
    const std::string block(64 * 1024, 'x');
    while (fill.write(block.data(), block.size())) {
    }
  }
  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec("a");
  grpc::Status s;
  // Until the store's free pages run out too.
  for (int i = 0; i < 200 && s.ok(); ++i) {
    create.mutable_spec()->set_name("vm" + std::to_string(i));
    grpc::ClientContext ctx;
    v1::Vm vm;
    s = vmd.vms()->CreateVm(&ctx, create, &vm);
  }
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  EXPECT_NE(s.error_message().find("state store"), std::string::npos) << s.error_message();
  EXPECT_NE(s.error_message().find("disk is full"), std::string::npos) << s.error_message();
  vmd.Kill(SIGKILL);
  umount2(state.c_str(), MNT_DETACH);
}

}  // namespace
}  // namespace vmd::testing

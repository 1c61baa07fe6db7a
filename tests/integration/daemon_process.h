// A real vmd process for integration tests: its own state dir and socket in a
// temp dir, started and killed like an operator (or a crash) would.
#ifndef VMD_TESTS_INTEGRATION_DAEMON_PROCESS_H_
#define VMD_TESTS_INTEGRATION_DAEMON_PROCESS_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "vmd/v1/host.grpc.pb.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace vmd::testing {

class DaemonProcess {
 public:
  // `extra_args` go to vmd after the state dir and socket.
  explicit DaemonProcess(std::vector<std::string> extra_args = {"--heartbeat-ms", "50"});
  ~DaemonProcess();  // kills vmd and every engine it started, removes the dir

  // NAME=VALUE in the environment of the next Start() (e.g. a crash point,
  // daemon/core/fault_points.h); an empty value removes it.
  void SetEnv(const std::string& name, const std::string& value);
  // Starts vmd and waits until it serves.
  void Start();
  // Starts vmd without waiting (it may be meant to crash).
  void Launch();
  // Sends `signal` and reaps vmd; returns its wait status.
  int Kill(int signal);
  // Reaps a vmd that ends by itself (a crash point); returns its wait status.
  int Wait();
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  std::string address() const { return "unix:" + dir_ + "/vmd.sock"; }
  const std::string& dir() const { return dir_; }
  std::string state_dir() const { return dir_ + "/state"; }
  std::shared_ptr<grpc::Channel> channel();
  std::unique_ptr<v1::VmService::Stub> vms();
  std::unique_ptr<v1::HostService::Stub> host();

  // Why this vmd cannot use kvm (from GetHostInfo); empty when it can.
  std::string KvmUnusableReason();

  // Runs vmctl against this daemon; returns its exit code, fills stdout.
  int Vmctl(const std::string& args, std::string* out, std::string* err = nullptr) const;

 private:
  std::vector<std::string> extra_args_;
  std::map<std::string, std::string> env_;
  std::string dir_;
  pid_t pid_ = -1;
};

// A VmSpec with the given name, 1 vCPU, 32 MiB.
v1::VmSpec SmallSpec(const std::string& name, v1::Backend backend = v1::BACKEND_SIM,
                     const std::string& workload = "idle");

// Polls GetVm until the VM is in `state` (up to 10 s).
bool WaitForState(v1::VmService::Stub* vms, const std::string& name, v1::VmState state);

}  // namespace vmd::testing

#endif  // VMD_TESTS_INTEGRATION_DAEMON_PROCESS_H_

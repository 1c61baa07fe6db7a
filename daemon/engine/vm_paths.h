// Where a VM's engine keeps its files: <state_dir>/vms/<vm id>/.
#ifndef VMD_DAEMON_ENGINE_VM_PATHS_H_
#define VMD_DAEMON_ENGINE_VM_PATHS_H_

#include <string>

namespace vmd::daemon {

struct VmPaths {
  std::string dir;

  VmPaths(const std::string& state_dir, const std::string& vm_id) : dir(state_dir + "/vms/" + vm_id) {}
  std::string config() const { return dir + "/config.json"; }
  std::string socket() const { return dir + "/engine.sock"; }
  std::string console() const { return dir + "/console.log"; }
  std::string log() const { return dir + "/engine.log"; }
  std::string exit_record() const { return dir + "/exit.json"; }
  // Written by the engine's exit monitor: how the process ended.
  std::string process_exit() const { return dir + "/engine_exit.json"; }
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_VM_PATHS_H_

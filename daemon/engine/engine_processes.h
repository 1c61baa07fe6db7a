// The engine processes of a state dir, found by what they are (their command
// line names <state_dir>/vms/<vm id>/config.json), not by a pid a record
// happens to hold: after a vmd crash the store may not know an engine it
// had just spawned, and a pid may have been reused.
#ifndef VMD_DAEMON_ENGINE_ENGINE_PROCESSES_H_
#define VMD_DAEMON_ENGINE_ENGINE_PROCESSES_H_

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace vmd::daemon {

// Live (not zombie) engines of `state_dir`, by VM id; their exit monitors
// are not engines.
std::map<std::string, std::vector<pid_t>> FindEngineProcesses(const std::string& state_dir);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_ENGINE_PROCESSES_H_

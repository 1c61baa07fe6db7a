// How an engine ended, put together in one place: the process's exit (code
// or signal, when vmd could reap it), the engine's own exit record
// (exit.json: what happened to the VM, with a register dump after a crash),
// and the reason in words.
#ifndef VMD_DAEMON_ENGINE_EXIT_STATUS_H_
#define VMD_DAEMON_ENGINE_EXIT_STATUS_H_

#include <optional>
#include <string>

#include "daemon/engine/engine_supervisor.h"
#include "daemon/engine/vm_paths.h"
#include "vmd/engine/v1/exit_record.pb.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

// <dir>/exit.json; kind UNSPECIFIED when there is none or it cannot be read.
engine::v1::ExitRecord ReadExitRecord(const VmPaths& paths);

// The ExitStatus of a VM whose engine ended: code -1 and signal 0 when the
// process's exit is unknown (`exit` unset, or not ours to reap).
v1::ExitStatus MakeExitStatus(const std::optional<EngineExit>& exit, const engine::v1::ExitRecord& record,
                              std::string reason);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_ENGINE_EXIT_STATUS_H_

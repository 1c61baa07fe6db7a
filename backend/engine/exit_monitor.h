// The engine's exit monitor, as conmon is a container's: vmd starts
// `vmd-engine --exit-status-file FILE ...`, which forks before doing anything
// else. The child goes on as the engine, and first writes its pid to the
// ready fd (four bytes, before its ready byte); the parent waits for the
// engine, writes how it ended to FILE (a vmd.engine.v1.ProcessExit,
// atomically) and exits. So the exit code or signal is exact whoever watches
// the engine -- the vmd that started it, or one that adopted it later.
#ifndef VMD_BACKEND_ENGINE_EXIT_MONITOR_H_
#define VMD_BACKEND_ENGINE_EXIT_MONITOR_H_

#include <string>

namespace vmd::engine {

// Returns in the engine (the child). The monitor never returns: it exits
// when the engine has. Call before any thread exists.
void ForkExitMonitor(const std::string& exit_status_file, int ready_fd);

}  // namespace vmd::engine

#endif  // VMD_BACKEND_ENGINE_EXIT_MONITOR_H_

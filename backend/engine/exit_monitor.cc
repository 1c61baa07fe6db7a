#include "backend/engine/exit_monitor.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "backend/rpc/proto_json.h"
#include "vmd/engine/v1/exit_record.pb.h"

namespace vmd::engine {

void ForkExitMonitor(const std::string& exit_status_file, int ready_fd) {
  const pid_t engine = fork();
  if (engine < 0) {
    perror("vmd-engine: fork of the exit monitor");
    return;  // run unmonitored rather than not at all
  }
  if (engine == 0) {
    // The engine says who it is first, so that its pid comes before its
    // ready byte on the same fd, from the same process.
    if (ready_fd >= 0) {
      const int32_t pid = getpid();
      if (write(ready_fd, &pid, sizeof(pid)) != static_cast<ssize_t>(sizeof(pid))) {
        perror("vmd-engine: sending the engine pid (vmd gone? running on)");
      }
    }
    return;
  }

  // The monitor: it outlives nothing but the engine, and termination
  // signals are the engine's to act on.
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) signal(s, SIG_IGN);
  prctl(PR_SET_NAME, "vmd-engine-mon");
  if (ready_fd >= 0) close(ready_fd);
  int status = 0;
  while (waitpid(engine, &status, 0) < 0 && errno == EINTR) {
  }
  v1::ProcessExit exit;
  exit.set_pid(engine);
  exit.set_code(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
  exit.set_signal(WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  const std::string tmp = exit_status_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << rpc::ToJson(exit) << "\n";
  }
  std::rename(tmp.c_str(), exit_status_file.c_str());
  _exit(0);
}

}  // namespace vmd::engine

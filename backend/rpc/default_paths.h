// Where vmd keeps its state and listens when not told otherwise; vmctl uses
// the same default address. Root: /var/lib/vmd and /run/vmd/vmd.sock. Other
// users: $XDG_STATE_HOME/vmd (or ~/.local/state/vmd) and
// $XDG_RUNTIME_DIR/vmd.sock (or <state dir>/vmd.sock).
#ifndef VMD_BACKEND_RPC_DEFAULT_PATHS_H_
#define VMD_BACKEND_RPC_DEFAULT_PATHS_H_

#include <unistd.h>

#include <cstdlib>
#include <string>

namespace vmd {

inline std::string DefaultStateDir() {
  if (geteuid() == 0) return "/var/lib/vmd";
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) return std::string(xdg) + "/vmd";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.local/state/vmd";
}

inline std::string DefaultSocketPath() {
  if (geteuid() == 0) return "/run/vmd/vmd.sock";
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg) return std::string(xdg) + "/vmd.sock";
  return DefaultStateDir() + "/vmd.sock";
}

// The address vmctl dials: $VMD_ADDRESS, else the default socket.
inline std::string DefaultAddress() {
  if (const char* env = std::getenv("VMD_ADDRESS"); env && *env) return env;
  return "unix:" + DefaultSocketPath();
}

}  // namespace vmd

#endif  // VMD_BACKEND_RPC_DEFAULT_PATHS_H_

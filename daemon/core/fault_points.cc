#include "daemon/core/fault_points.h"

#include <signal.h>

#include <cstdlib>
#include <cstring>

namespace vmd::daemon {

void CrashPoint(const char* point) {
  static const char* const crash_at = std::getenv("VMD_FAULT_CRASH_AT");
  if (crash_at != nullptr && std::strcmp(crash_at, point) == 0) raise(SIGKILL);
}

}  // namespace vmd::daemon

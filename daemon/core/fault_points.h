// Crash points for fault-injection tests: with VMD_FAULT_CRASH_AT=<point> in
// its environment, vmd kills itself (SIGKILL, as `kill -9` would) when it
// reaches that point, so a test can reproduce a crash window exactly.
// Points are named "<operation>.<moment>", e.g. "start.after-spawn".
#ifndef VMD_DAEMON_CORE_FAULT_POINTS_H_
#define VMD_DAEMON_CORE_FAULT_POINTS_H_

namespace vmd::daemon {

void CrashPoint(const char* point);

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_FAULT_POINTS_H_

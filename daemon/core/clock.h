// The time vmd stamps on records and events.
#ifndef VMD_DAEMON_CORE_CLOCK_H_
#define VMD_DAEMON_CORE_CLOCK_H_

#include "google/protobuf/timestamp.pb.h"

namespace vmd::daemon {

// Now, to the nanosecond. Not protobuf's TimeUtil::GetCurrentTime(): in the
// protobuf 3.21 that Debian 12 ships it reads time(nullptr) and leaves nanos
// 0, so that two changes within a second would carry the same time.
google::protobuf::Timestamp NowTimestamp();

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_CORE_CLOCK_H_

// StreamConsole as a pumped stream: a VM's console log from an offset, in
// chunks of at most kConsoleChunk, then (with follow) what the engine
// writes, woken by the daemon's shared inotify watch or, where there is
// none, by polling on the pump's tick. It ends when the output is read (no
// follow) or the VM is deleted.
#ifndef VMD_DAEMON_API_CONSOLE_STREAM_H_
#define VMD_DAEMON_API_CONSOLE_STREAM_H_

#include <cstdint>
#include <memory>
#include <string>

#include "daemon/api/dir_watch.h"
#include "daemon/api/stream_writer.h"
#include "daemon/core/vm_lifecycle.h"
#include "vmd/v1/vm.pb.h"

namespace vmd::daemon {

inline constexpr size_t kConsoleChunk = 64 * 1024;

class ConsoleStream final : public StreamWriter<v1::ConsoleChunk> {
 public:
  ConsoleStream(grpc::CallbackServerContext* ctx, StreamPump& pump, StreamLimits::Slot slot, VmLifecycle& lifecycle,
                std::string vm_name, std::string path, uint64_t offset, bool follow);
  ~ConsoleStream() override;

 private:
  void Attach() override;
  StreamStep Next(v1::ConsoleChunk* out, grpc::Status* end) override;
  grpc::Status Stalled(const v1::ConsoleChunk& in_flight) override;
  bool PollDue() override;

  VmLifecycle& lifecycle_;
  const std::string vm_name_;
  const std::string path_;
  const bool follow_;
  uint64_t offset_;  // the next byte to read
  int fd_ = -1;      // the log is absent until the VM first starts
  std::unique_ptr<DirWatch> watch_;
  unsigned ticks_ = 0;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_API_CONSOLE_STREAM_H_

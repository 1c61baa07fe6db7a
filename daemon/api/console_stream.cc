#include "daemon/api/console_stream.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "backend/rpc/grpc_status.h"

namespace vmd::daemon {
namespace {

// With inotify, a follower still looks every this many ticks, for what
// inotify does not tell (the VM deleted while nothing is written).
constexpr unsigned kTicksPerLook = 5;

}  // namespace

ConsoleStream::ConsoleStream(grpc::CallbackServerContext* ctx, StreamPump& pump, StreamLimits::Slot slot,
                             VmLifecycle& lifecycle, std::string vm_name, std::string path, uint64_t offset,
                             bool follow)
    : StreamWriter(ctx, pump, std::move(slot)),
      lifecycle_(lifecycle),
      vm_name_(std::move(vm_name)),
      path_(std::move(path)),
      follow_(follow),
      offset_(offset) {}

ConsoleStream::~ConsoleStream() {
  watch_.reset();  // no more wake-ups before the fd goes
  if (fd_ >= 0) close(fd_);
}

void ConsoleStream::Attach() {
  if (!follow_) return;
  const std::filesystem::path dir = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::weak_ptr<PumpedStream> self = weak_from_this();
  watch_ = std::make_unique<DirWatch>(dir.string(), [self, &pump = pump()] { pump.Wake(self); });
}

StreamStep ConsoleStream::Next(v1::ConsoleChunk* out, grpc::Status* end) {
  if (fd_ < 0) fd_ = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  std::string* data = out->mutable_data();
  data->resize(kConsoleChunk);
  const ssize_t n = fd_ < 0 ? 0 : pread(fd_, data->data(), data->size(), static_cast<off_t>(offset_));
  if (n > 0) {
    data->resize(static_cast<size_t>(n));
    out->set_offset(offset_);
    offset_ += static_cast<uint64_t>(n);
    return StreamStep::kWrite;
  }
  data->clear();
  // A deleted VM has no more output to follow.
  if (!follow_ || !lifecycle_.GetVm(vm_name_).ok()) {
    *end = grpc::Status::OK;
    return StreamStep::kEnd;
  }
  return StreamStep::kWait;
}

bool ConsoleStream::PollDue() {
  if (!follow_) return false;
  return !watch_->notified() || ++ticks_ % kTicksPerLook == 0;
}

grpc::Status ConsoleStream::Stalled(const v1::ConsoleChunk& in_flight) {
  return StalledStatus(pump().options(), "console output", "stream again from offset", "resume_offset",
                       in_flight.offset() + in_flight.data().size());
}

}  // namespace vmd::daemon

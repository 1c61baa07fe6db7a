#include "daemon/api/vm_service.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "backend/rpc/error_details.h"
#include "daemon/api/dir_watch.h"
#include "daemon/core/validation.h"

namespace vmd::daemon {
namespace {

using std::chrono::milliseconds;

// Streams check for a cancelled client at least this often.
constexpr milliseconds kStreamPoll{200};
constexpr size_t kConsoleChunk = 64 * 1024;

grpc::Status ShuttingDown() {
  return ToGrpcStatus(rpc::WithErrorInfo(absl::UnavailableError("vmd is shutting down; reconnect"),
                                         rpc::reason::kShuttingDown));
}

}  // namespace

void VmServiceImpl::EndStreams() {
  ending_ = true;
  events_.Close();
}

grpc::Status VmServiceImpl::CreateVm(grpc::ServerContext*, const v1::CreateVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.CreateVm(*req), resp);
}
grpc::ServerUnaryReactor* VmServiceImpl::GetVm(grpc::CallbackServerContext* ctx, const v1::GetVmRequest* req,
                                                v1::Vm* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(Answer(lifecycle_.GetVm(req->name()), resp));
  return reactor;
}
grpc::ServerUnaryReactor* VmServiceImpl::ListVms(grpc::CallbackServerContext* ctx, const v1::ListVmsRequest* req,
                                                  v1::ListVmsResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(Answer(lifecycle_.ListVms(*req), resp));
  return reactor;
}
grpc::Status VmServiceImpl::StartVm(grpc::ServerContext*, const v1::StartVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.StartVm(*req), resp);
}
grpc::Status VmServiceImpl::PauseVm(grpc::ServerContext*, const v1::PauseVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.PauseVm(*req), resp);
}
grpc::Status VmServiceImpl::ResumeVm(grpc::ServerContext*, const v1::ResumeVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.ResumeVm(*req), resp);
}
grpc::Status VmServiceImpl::StopVm(grpc::ServerContext*, const v1::StopVmRequest* req, v1::Vm* resp) {
  return Answer(lifecycle_.StopVm(*req), resp);
}
grpc::Status VmServiceImpl::DeleteVm(grpc::ServerContext*, const v1::DeleteVmRequest* req,
                                     v1::DeleteVmResponse* resp) {
  return Answer(lifecycle_.DeleteVm(*req), resp);
}

grpc::Status VmServiceImpl::WatchEvents(grpc::ServerContext* ctx, const v1::WatchEventsRequest* req,
                                        grpc::ServerWriter<v1::Event>* writer) {
  if (!req->vm_name().empty()) {
    if (absl::Status s = ValidateName("vm_name", req->vm_name()); !s.ok()) return ToGrpcStatus(s);
  }
  uint64_t after = req->after_sequence();
  std::vector<v1::Event> batch;
  while (!Ending(ctx)) {
    batch.clear();
    absl::StatusOr<uint64_t> next = events_.Read(after, req->vm_name(), kStreamPoll, &batch);
    if (!next.ok()) return ToGrpcStatus(next.status());
    for (const v1::Event& e : batch) {
      if (!writer->Write(e)) return grpc::Status::OK;  // the client went away
    }
    after = *next;
  }
  return ending_ ? ShuttingDown() : grpc::Status::OK;
}

grpc::Status VmServiceImpl::StreamConsole(grpc::ServerContext* ctx, const v1::StreamConsoleRequest* req,
                                          grpc::ServerWriter<v1::ConsoleChunk>* writer) {
  absl::StatusOr<v1::Vm> vm = lifecycle_.GetVm(req->name());
  if (!vm.ok()) return ToGrpcStatus(vm.status());
  const std::string path = lifecycle_.ConsolePath(*vm);
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  DirWatch changes(std::filesystem::path(path).parent_path().string());
  uint64_t offset = req->offset();
  std::string buf(kConsoleChunk, '\0');
  int fd = -1;
  while (!Ending(ctx)) {
    if (fd < 0) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);  // absent until the VM first starts
    ssize_t n = fd < 0 ? 0 : pread(fd, buf.data(), buf.size(), static_cast<off_t>(offset));
    if (n > 0) {
      v1::ConsoleChunk chunk;
      chunk.set_offset(offset);
      chunk.set_data(buf.data(), static_cast<size_t>(n));
      if (!writer->Write(chunk)) break;
      offset += static_cast<uint64_t>(n);
      continue;
    }
    if (!req->follow()) break;
    // A deleted VM has no more output to follow.
    if (!lifecycle_.GetVm(req->name()).ok()) break;
    changes.Wait(kStreamPoll);
  }
  if (fd >= 0) close(fd);
  return ending_ ? ShuttingDown() : grpc::Status::OK;
}

}  // namespace vmd::daemon

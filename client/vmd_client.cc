#include "client/vmd_client.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "backend/rpc/grpc_status.h"

namespace vmd::client {

void StreamCanceller::Cancel() {
  absl::MutexLock lock(&mu_);
  cancelled_ = true;
  // TryCancel is thread-safe; the context stays alive while it is attached
  // because Detach() takes mu_ before the call's context goes away.
  if (context_ != nullptr) context_->TryCancel();
}

bool StreamCanceller::IsCancelled() const {
  absl::MutexLock lock(&mu_);
  return cancelled_;
}

bool StreamCanceller::Attach(grpc::ClientContext* context) {
  absl::MutexLock lock(&mu_);
  if (cancelled_) return false;
  context_ = context;
  return true;
}

void StreamCanceller::Detach() {
  absl::MutexLock lock(&mu_);
  context_ = nullptr;
}

// Keeps a canceller bound to one streaming call's context for the call's
// lifetime. Declare it after the context so it detaches first.
class StreamCallScope {
 public:
  StreamCallScope(StreamCanceller* canceller, grpc::ClientContext* context)
      : canceller_(canceller),
        attached_(canceller == nullptr || canceller->Attach(context)) {}
  StreamCallScope(const StreamCallScope&) = delete;
  StreamCallScope& operator=(const StreamCallScope&) = delete;
  ~StreamCallScope() {
    if (canceller_ != nullptr) canceller_->Detach();
  }

  bool cancelled_before_start() const { return !attached_; }
  bool cancelled() const {
    return canceller_ != nullptr && canceller_->IsCancelled();
  }

 private:
  StreamCanceller* canceller_;
  bool attached_;
};

namespace {

using rpc::ToAbslStatus;

std::string NormalizeAddress(const std::string& address) {
  if (absl::StartsWith(address, "/")) return absl::StrCat("unix:", address);
  return address;
}

void ApplyOptions(const CallOptions& options, grpc::ClientContext* context) {
  if (options.timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + options.timeout));
  }
  context->set_wait_for_ready(options.wait_for_ready);
}

// `invoke(context, response)` performs the blocking stub call.
template <typename Response, typename Invoke>
absl::StatusOr<Response> CallUnary(const CallOptions& options,
                                   Invoke invoke) {
  grpc::ClientContext context;
  ApplyOptions(options, &context);
  Response response;
  grpc::Status status = invoke(&context, &response);
  if (!status.ok()) return ToAbslStatus(status);
  return response;
}

// `start(context)` opens the stream and returns its reader.
template <typename Message, typename Start>
absl::Status CallStreaming(const CallOptions& options,
                           StreamCanceller* canceller, Start start,
                           absl::FunctionRef<bool(const Message&)> on_message) {
  grpc::ClientContext context;
  ApplyOptions(options, &context);
  StreamCallScope scope(canceller, &context);
  if (scope.cancelled_before_start()) return absl::OkStatus();

  std::unique_ptr<grpc::ClientReaderInterface<Message>> reader =
      start(&context);
  Message message;
  bool stopped_by_callback = false;
  while (reader->Read(&message)) {
    if (!on_message(message)) {
      stopped_by_callback = true;
      context.TryCancel();
      break;
    }
  }
  // Finish() may only follow a Read() that returned false.
  if (stopped_by_callback) {
    while (reader->Read(&message)) {
    }
  }
  grpc::Status status = reader->Finish();
  if (status.ok()) return absl::OkStatus();
  // Our own cancellation ends the stream with CANCELLED; that is the
  // requested outcome, not a failure.
  if (status.error_code() == grpc::StatusCode::CANCELLED &&
      (stopped_by_callback || scope.cancelled())) {
    return absl::OkStatus();
  }
  return ToAbslStatus(status);
}

}  // namespace

VmdClient::VmdClient(const std::string& address)
    : VmdClient(grpc::CreateChannel(NormalizeAddress(address),
                                    grpc::InsecureChannelCredentials()),
                NormalizeAddress(address)) {}

VmdClient::VmdClient(std::shared_ptr<grpc::Channel> channel,
                     std::string address)
    : address_(std::move(address)),
      channel_(std::move(channel)),
      vm_stub_(v1::VmService::NewStub(channel_)),
      host_stub_(v1::HostService::NewStub(channel_)),
      probe_stub_(v1::ProbeService::NewStub(channel_)),
      msr_stub_(v1::MsrService::NewStub(channel_)),
      pmu_stub_(v1::PmuService::NewStub(channel_)) {}

VmdClient::~VmdClient() = default;

bool VmdClient::IsDisconnected() const {
  return channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY;
}

absl::StatusOr<v1::Vm> VmdClient::CreateVm(const v1::CreateVmRequest& request,
                                           const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->CreateVm(context, request, response);
      });
}

absl::StatusOr<v1::Vm> VmdClient::GetVm(const v1::GetVmRequest& request,
                                        const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->GetVm(context, request, response);
      });
}

absl::StatusOr<v1::ListVmsResponse> VmdClient::ListVms(
    const v1::ListVmsRequest& request, const CallOptions& options) {
  return CallUnary<v1::ListVmsResponse>(
      options,
      [&](grpc::ClientContext* context, v1::ListVmsResponse* response) {
        return vm_stub_->ListVms(context, request, response);
      });
}

absl::StatusOr<v1::Vm> VmdClient::StartVm(const v1::StartVmRequest& request,
                                          const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->StartVm(context, request, response);
      });
}

absl::StatusOr<v1::Vm> VmdClient::PauseVm(const v1::PauseVmRequest& request,
                                          const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->PauseVm(context, request, response);
      });
}

absl::StatusOr<v1::Vm> VmdClient::ResumeVm(const v1::ResumeVmRequest& request,
                                           const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->ResumeVm(context, request, response);
      });
}

absl::StatusOr<v1::Vm> VmdClient::StopVm(const v1::StopVmRequest& request,
                                         const CallOptions& options) {
  return CallUnary<v1::Vm>(
      options, [&](grpc::ClientContext* context, v1::Vm* response) {
        return vm_stub_->StopVm(context, request, response);
      });
}

absl::StatusOr<v1::DeleteVmResponse> VmdClient::DeleteVm(
    const v1::DeleteVmRequest& request, const CallOptions& options) {
  return CallUnary<v1::DeleteVmResponse>(
      options,
      [&](grpc::ClientContext* context, v1::DeleteVmResponse* response) {
        return vm_stub_->DeleteVm(context, request, response);
      });
}

absl::Status VmdClient::WatchEvents(
    const v1::WatchEventsRequest& request,
    absl::FunctionRef<bool(const v1::Event&)> on_event,
    StreamCanceller* canceller, const CallOptions& options) {
  return CallStreaming<v1::Event>(
      options, canceller,
      [&](grpc::ClientContext* context) {
        return vm_stub_->WatchEvents(context, request);
      },
      on_event);
}

absl::Status VmdClient::StreamConsole(
    const v1::StreamConsoleRequest& request,
    absl::FunctionRef<bool(const v1::ConsoleChunk&)> on_chunk,
    StreamCanceller* canceller, const CallOptions& options) {
  return CallStreaming<v1::ConsoleChunk>(
      options, canceller,
      [&](grpc::ClientContext* context) {
        return vm_stub_->StreamConsole(context, request);
      },
      on_chunk);
}

absl::StatusOr<v1::HostInfo> VmdClient::GetHostInfo(
    const v1::GetHostInfoRequest& request, const CallOptions& options) {
  return CallUnary<v1::HostInfo>(
      options, [&](grpc::ClientContext* context, v1::HostInfo* response) {
        return host_stub_->GetHostInfo(context, request, response);
      });
}

absl::StatusOr<v1::PmuGrant> VmdClient::NegotiatePmu(
    const v1::NegotiatePmuRequest& request, const CallOptions& options) {
  return CallUnary<v1::PmuGrant>(
      options, [&](grpc::ClientContext* context, v1::PmuGrant* response) {
        return pmu_stub_->NegotiatePmu(context, request, response);
      });
}

absl::StatusOr<v1::RunProbeResponse> VmdClient::RunProbe(
    const v1::RunProbeRequest& request, const CallOptions& options) {
  return CallUnary<v1::RunProbeResponse>(
      options,
      [&](grpc::ClientContext* context, v1::RunProbeResponse* response) {
        return probe_stub_->RunProbe(context, request, response);
      });
}

absl::StatusOr<v1::GuestBenchReport> VmdClient::RunGuestBench(
    const v1::RunGuestBenchRequest& request, const CallOptions& options) {
  return CallUnary<v1::GuestBenchReport>(
      options,
      [&](grpc::ClientContext* context, v1::GuestBenchReport* response) {
        return probe_stub_->RunGuestBench(context, request, response);
      });
}

absl::StatusOr<v1::SetMsrPolicyResponse> VmdClient::SetMsrPolicy(
    const v1::SetMsrPolicyRequest& request, const CallOptions& options) {
  return CallUnary<v1::SetMsrPolicyResponse>(
      options,
      [&](grpc::ClientContext* context, v1::SetMsrPolicyResponse* response) {
        return msr_stub_->SetMsrPolicy(context, request, response);
      });
}

absl::StatusOr<v1::MsrPolicy> VmdClient::GetMsrPolicy(
    const v1::GetMsrPolicyRequest& request, const CallOptions& options) {
  return CallUnary<v1::MsrPolicy>(
      options, [&](grpc::ClientContext* context, v1::MsrPolicy* response) {
        return msr_stub_->GetMsrPolicy(context, request, response);
      });
}

absl::StatusOr<v1::MsrStats> VmdClient::GetMsrStats(
    const v1::GetMsrStatsRequest& request, const CallOptions& options) {
  return CallUnary<v1::MsrStats>(
      options, [&](grpc::ClientContext* context, v1::MsrStats* response) {
        return msr_stub_->GetMsrStats(context, request, response);
      });
}

absl::StatusOr<std::vector<v1::Vm>> VmdClient::ListAllVms(
    v1::ListVmsRequest request, const CallOptions& options,
    uint64_t* head_sequence) {
  std::vector<v1::Vm> vms;
  absl::flat_hash_set<std::string> seen_tokens;
  while (true) {
    absl::StatusOr<v1::ListVmsResponse> page = ListVms(request, options);
    if (!page.ok()) return page.status();
    if (head_sequence != nullptr && seen_tokens.empty()) {
      *head_sequence = page->head_sequence();
    }
    for (v1::Vm& vm : *page->mutable_vms()) vms.push_back(std::move(vm));
    if (page->next_page_token().empty()) return vms;
    if (!seen_tokens.insert(page->next_page_token()).second) {
      return absl::AbortedError(absl::StrCat(
          "ListVms returned page token \"", page->next_page_token(),
          "\" twice; stopping to avoid an endless listing"));
    }
    request.set_page_token(page->next_page_token());
  }
}

}  // namespace vmd::client

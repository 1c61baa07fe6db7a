// A C++ client for the vmd public API (vmd.v1.VmService, vmd.v1.HostService,
// vmd.v1.ProbeService, vmd.v1.MsrService).
//
// One method per RPC. Unary calls return absl::StatusOr<response>; a failed
// call carries the gRPC status code and message unchanged (see
// grpc_status.h). Server-streaming calls deliver each message to a callback
// on the calling thread and can be stopped by the callback or, from any other
// thread, by a StreamCanceller. Nothing here throws.
//
//   vmd::client::VmdClient client("unix:/run/vmd/vmd.sock");
//   vmd::v1::GetVmRequest request;
//   request.set_name("web-1");
//   absl::StatusOr<vmd::v1::Vm> vm =
//       client.GetVm(request, {.timeout = absl::Seconds(5)});
#ifndef VMD_CLIENT_VMD_CLIENT_H_
#define VMD_CLIENT_VMD_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vmd/v1/host.grpc.pb.h"
#include "vmd/v1/msr.grpc.pb.h"
#include "vmd/v1/pmu.grpc.pb.h"
#include "vmd/v1/probe.grpc.pb.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace grpc {
class Channel;
class ClientContext;
}  // namespace grpc

namespace vmd::client {

// Options of one call.
struct CallOptions {
  // The call fails with DEADLINE_EXCEEDED when it has not completed this long
  // after it started. Infinite (the default) means no deadline. For streams
  // the deadline bounds the whole stream.
  absl::Duration timeout = absl::InfiniteDuration();
  // Wait for the daemon to become reachable (until the deadline) instead of
  // failing at once with UNAVAILABLE when it is not.
  bool wait_for_ready = false;
};

// Stops a streaming call from another thread. Give one canceller to one call.
// Cancel() is thread-safe and may come before the call starts (the call then
// returns at once without contacting the server), while it runs, or after it
// ended (no effect on the finished call).
class StreamCanceller {
 public:
  StreamCanceller() = default;
  StreamCanceller(const StreamCanceller&) = delete;
  StreamCanceller& operator=(const StreamCanceller&) = delete;

  void Cancel();
  bool IsCancelled() const;

 private:
  // The RAII helper that binds a streaming call's context (vmd_client.cc).
  friend class StreamCallScope;

  // Binds the call's context; returns false when already cancelled.
  bool Attach(grpc::ClientContext* context);
  // Unbinds the context before it is destroyed.
  void Detach();

  mutable absl::Mutex mu_;
  grpc::ClientContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

// Thread-safe: any number of threads may make calls on one client at once
// (each call has its own gRPC context; the channel and stubs are shared).
class VmdClient {
 public:
  // `address` is a gRPC target: "unix:/path/to/vmd.sock", "host:port", or an
  // absolute socket path (taken as "unix:<path>"). The connection uses
  // insecure credentials and is made lazily, on the first call.
  explicit VmdClient(const std::string& address);
  // Uses an existing channel (e.g. with other credentials). `address` is only
  // reported by address().
  VmdClient(std::shared_ptr<grpc::Channel> channel, std::string address);

  VmdClient(const VmdClient&) = delete;
  VmdClient& operator=(const VmdClient&) = delete;
  ~VmdClient();

  // The gRPC target this client dials.
  const std::string& address() const { return address_; }
  // True when the channel has no working connection to the daemon, i.e. an
  // UNAVAILABLE failure means the daemon could not be reached at all rather
  // than the daemon answering UNAVAILABLE.
  bool IsDisconnected() const;

  // vmd.v1.VmService
  absl::StatusOr<v1::Vm> CreateVm(const v1::CreateVmRequest& request,
                                  const CallOptions& options = {});
  absl::StatusOr<v1::Vm> GetVm(const v1::GetVmRequest& request,
                               const CallOptions& options = {});
  // One page; see ListAllVms for every page.
  absl::StatusOr<v1::ListVmsResponse> ListVms(
      const v1::ListVmsRequest& request, const CallOptions& options = {});
  absl::StatusOr<v1::Vm> StartVm(const v1::StartVmRequest& request,
                                 const CallOptions& options = {});
  absl::StatusOr<v1::Vm> PauseVm(const v1::PauseVmRequest& request,
                                 const CallOptions& options = {});
  absl::StatusOr<v1::Vm> ResumeVm(const v1::ResumeVmRequest& request,
                                  const CallOptions& options = {});
  absl::StatusOr<v1::Vm> StopVm(const v1::StopVmRequest& request,
                                const CallOptions& options = {});
  absl::StatusOr<v1::DeleteVmResponse> DeleteVm(
      const v1::DeleteVmRequest& request, const CallOptions& options = {});

  // Streams events to `on_event` until the server ends the stream,
  // `on_event` returns false, or `canceller` (may be null) is cancelled.
  // Those three endings return OK; otherwise the call's error.
  absl::Status WatchEvents(
      const v1::WatchEventsRequest& request,
      absl::FunctionRef<bool(const v1::Event&)> on_event,
      StreamCanceller* canceller = nullptr, const CallOptions& options = {});
  // Streams console output like WatchEvents streams events. Without
  // request.follow() the server ends the stream at the end of the log.
  absl::Status StreamConsole(
      const v1::StreamConsoleRequest& request,
      absl::FunctionRef<bool(const v1::ConsoleChunk&)> on_chunk,
      StreamCanceller* canceller = nullptr, const CallOptions& options = {});

  // vmd.v1.HostService
  absl::StatusOr<v1::HostInfo> GetHostInfo(
      const v1::GetHostInfoRequest& request = {},
      const CallOptions& options = {});

  // vmd.v1.ProbeService. Both need a RUNNING VM with workload "probe"
  // (FAILED_PRECONDITION otherwise); the guest bench also needs kvm. A probe
  // that runs returns OK even when its ops fault or time out: see each
  // ProbeResult's outcome.
  absl::StatusOr<v1::RunProbeResponse> RunProbe(
      const v1::RunProbeRequest& request, const CallOptions& options = {});
  absl::StatusOr<v1::GuestBenchReport> RunGuestBench(
      const v1::RunGuestBenchRequest& request,
      const CallOptions& options = {});

  // vmd.v1.MsrService. SetMsrPolicy takes request.policy() or
  // request.preset() (one of them); its response has the policy as stored (a
  // preset expanded), how it maps onto KVM's filter, and warnings. A policy
  // the server refuses is INVALID_ARGUMENT naming the field ("rules[2].count:
  // ..."). GetMsrStats needs a running VM.
  absl::StatusOr<v1::SetMsrPolicyResponse> SetMsrPolicy(
      const v1::SetMsrPolicyRequest& request, const CallOptions& options = {});
  absl::StatusOr<v1::MsrPolicy> GetMsrPolicy(
      const v1::GetMsrPolicyRequest& request, const CallOptions& options = {});
  absl::StatusOr<v1::MsrStats> GetMsrStats(
      const v1::GetMsrStatsRequest& request, const CallOptions& options = {});

  // vmd.v1.PmuService: a dry run of the PMU negotiation CreateVm does.
  absl::StatusOr<v1::PmuGrant> NegotiatePmu(
      const v1::NegotiatePmuRequest& request, const CallOptions& options = {});

  // Lists every VM matching `request`, following next_page_token from
  // request.page_token() (empty: the first page) to the last page. Each page
  // is a separate call with `options`. Fails with ABORTED if the server
  // repeats a page token (it would loop forever). `head_sequence`, when
  // given, gets the first page's: watch after it to miss no change.
  absl::StatusOr<std::vector<v1::Vm>> ListAllVms(
      v1::ListVmsRequest request, const CallOptions& options = {},
      uint64_t* head_sequence = nullptr);

 private:
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::VmService::StubInterface> vm_stub_;
  std::unique_ptr<v1::HostService::StubInterface> host_stub_;
  std::unique_ptr<v1::ProbeService::StubInterface> probe_stub_;
  std::unique_ptr<v1::MsrService::StubInterface> msr_stub_;
  std::unique_ptr<v1::PmuService::StubInterface> pmu_stub_;
};

}  // namespace vmd::client

#endif  // VMD_CLIENT_VMD_CLIENT_H_

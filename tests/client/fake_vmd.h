// An in-process fake of vmd's public API for client tests: a grpc::Server on
// a unix socket in a fresh temporary directory, serving VmService,
// HostService, ProbeService and MsrService from in-memory state the test sets
// up and inspects.
#ifndef VMD_TESTS_CLIENT_FAKE_VMD_H_
#define VMD_TESTS_CLIENT_FAKE_VMD_H_

#include <grpcpp/grpcpp.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "vmd/v1/host.grpc.pb.h"
#include "vmd/v1/msr.grpc.pb.h"
#include "vmd/v1/probe.grpc.pb.h"
#include "vmd/v1/vm.grpc.pb.h"

namespace vmd::testing {

// How WatchEvents and StreamConsole behave after what they have to send.
enum class StreamMode {
  kEnd,       // End the stream OK (console: unless follow is set).
  kHoldOpen,  // Keep the stream open, sending nothing, until cancelled.
  kEndless,   // (events) Keep sending new events until cancelled.
};

// Everything the fake serves and records. Guarded by `mu`.
struct FakeState {
  absl::Mutex mu;
  std::map<std::string, v1::Vm> vms ABSL_GUARDED_BY(mu);
  std::vector<v1::Event> events ABSL_GUARDED_BY(mu);
  // Events before this sequence are "no longer retained" (OUT_OF_RANGE).
  uint64_t first_retained_sequence ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, std::string> consoles ABSL_GUARDED_BY(mu);
  StreamMode stream_mode ABSL_GUARDED_BY(mu) = StreamMode::kEnd;
  // ListVms answers every page with this token when set (a broken server).
  std::string stuck_page_token ABSL_GUARDED_BY(mu);
  v1::HostInfo host_info ABSL_GUARDED_BY(mu);
  // ProbeService answers these to a VM that can run probes (RUNNING,
  // workload "probe"; the bench also needs status.backend KVM), like vmd
  // answers FAILED_PRECONDITION otherwise.
  v1::RunProbeResponse probe_response ABSL_GUARDED_BY(mu);
  v1::GuestBenchReport bench_report ABSL_GUARDED_BY(mu);
  // MsrService, for existing VMs. The policy of each VM as stored; a VM
  // without one has the empty policy (everything allowed).
  std::map<std::string, v1::MsrPolicy> msr_policies ABSL_GUARDED_BY(mu);
  // What SetMsrPolicy expands each preset ("default", "strict",
  // "platform-compat"; others are INVALID_ARGUMENT) to, before it sets the
  // preset's name; an empty policy when not set.
  std::map<std::string, v1::MsrPolicy> msr_presets ABSL_GUARDED_BY(mu);
  // SetMsrPolicy answers these with the stored policy.
  v1::MsrFilterSummary msr_filter ABSL_GUARDED_BY(mu);
  std::vector<std::string> msr_warnings ABSL_GUARDED_BY(mu);
  // GetMsrStats answers these to a RUNNING VM (empty stats when not set),
  // FAILED_PRECONDITION otherwise.
  std::map<std::string, v1::MsrStats> msr_stats ABSL_GUARDED_BY(mu);

  // Recorded calls.
  std::vector<v1::CreateVmRequest> create_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::ListVmsRequest> list_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::StopVmRequest> stop_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::StartVmRequest> start_requests ABSL_GUARDED_BY(mu);
  int watch_calls ABSL_GUARDED_BY(mu) = 0;
  int console_calls ABSL_GUARDED_BY(mu) = 0;
  int pause_calls ABSL_GUARDED_BY(mu) = 0;
  std::vector<v1::RunProbeRequest> probe_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::RunGuestBenchRequest> bench_requests ABSL_GUARDED_BY(mu);
  std::vector<v1::SetMsrPolicyRequest> set_msr_policy_requests
      ABSL_GUARDED_BY(mu);
  int get_msr_policy_calls ABSL_GUARDED_BY(mu) = 0;
  int get_msr_stats_calls ABSL_GUARDED_BY(mu) = 0;
  // Streams (and blocking calls) that ended because the client cancelled.
  int cancelled_calls ABSL_GUARDED_BY(mu) = 0;
};

// A VM as the fake stores it: CREATED, 1 vCPU, 128 MiB.
v1::Vm MakeVm(const std::string& name, v1::VmState state,
              absl::Time created_at);

class FakeVmd {
 public:
  FakeVmd();
  ~FakeVmd();
  FakeVmd(const FakeVmd&) = delete;
  FakeVmd& operator=(const FakeVmd&) = delete;

  // "unix:<temp dir>/vmd.sock".
  const std::string& address() const { return address_; }
  FakeState& state() { return *state_; }

  // Waits until `condition` (called under state().mu) holds; false after
  // `timeout`.
  bool WaitFor(bool (*condition)(const FakeState&), absl::Duration timeout);

 private:
  std::string dir_;
  std::string address_;
  std::unique_ptr<FakeState> state_;
  std::unique_ptr<v1::VmService::Service> vm_service_;
  std::unique_ptr<v1::HostService::Service> host_service_;
  std::unique_ptr<v1::ProbeService::Service> probe_service_;
  std::unique_ptr<v1::MsrService::Service> msr_service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace vmd::testing

#endif  // VMD_TESTS_CLIENT_FAKE_VMD_H_

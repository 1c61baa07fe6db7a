// vmd as a client generated from the protos alone sees it (no vmd code on
// the client side): health checking by service name, server reflection v1
// and v1alpha, google.rpc error details in grpc-status-details-bin, and a
// SIGTERM that does not wait for open streams.
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "google/protobuf/descriptor.pb.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpc/reflection/v1/reflection.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "tests/integration/daemon_process.h"

namespace vmd::testing {
namespace {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc::reflection::v1::ServerReflectionRequest;
using grpc::reflection::v1::ServerReflectionResponse;

class GenericClientTest : public ::testing::Test {
 protected:
  void SetUp() override { vmd_.Start(); }

  // The details a client decodes from grpc-status-details-bin.
  static google::rpc::Status Details(const grpc::Status& status) {
    google::rpc::Status details;
    EXPECT_TRUE(details.ParseFromString(status.error_details())) << status.error_message();
    EXPECT_EQ(details.code(), status.error_code());
    EXPECT_EQ(details.message(), status.error_message());
    return details;
  }
  template <typename T>
  static std::optional<T> Detail(const google::rpc::Status& details) {
    for (const google::protobuf::Any& any : details.details()) {
      T detail;
      if (any.UnpackTo(&detail)) return detail;
    }
    return std::nullopt;
  }

  DaemonProcess vmd_;
};

TEST_F(GenericClientTest, HealthServesTheServerAndEachVmdService) {
  auto health = grpc::health::v1::Health::NewStub(vmd_.channel());
  for (const char* service : {"", "vmd.v1.VmService", "vmd.v1.HostService", "vmd.v1.ProbeService",
                              "vmd.v1.MsrService"}) {
    grpc::ClientContext ctx;
    HealthCheckRequest request;
    request.set_service(service);
    HealthCheckResponse response;
    grpc::Status s = health->Check(&ctx, request, &response);
    ASSERT_TRUE(s.ok()) << "service \"" << service << "\": " << s.error_message();
    EXPECT_EQ(response.status(), HealthCheckResponse::SERVING) << service;
  }
  grpc::ClientContext ctx;
  HealthCheckRequest request;
  request.set_service("vmd.v1.NoSuchService");
  HealthCheckResponse response;
  EXPECT_EQ(health->Check(&ctx, request, &response).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(GenericClientTest, ReflectionV1ListsServicesAndDescribesThem) {
  auto reflection = grpc::reflection::v1::ServerReflection::NewStub(vmd_.channel());
  grpc::ClientContext ctx;
  auto stream = reflection->ServerReflectionInfo(&ctx);
  ServerReflectionRequest list;
  list.set_list_services("");
  ASSERT_TRUE(stream->Write(list));
  ServerReflectionResponse listed;
  ASSERT_TRUE(stream->Read(&listed));
  std::set<std::string> names;
  for (const auto& service : listed.list_services_response().service()) names.insert(service.name());
  for (const char* want : {"vmd.v1.VmService", "vmd.v1.HostService", "vmd.v1.ProbeService", "vmd.v1.MsrService",
                           "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                           "grpc.reflection.v1alpha.ServerReflection"}) {
    EXPECT_TRUE(names.contains(want)) << want;
  }

  ServerReflectionRequest symbol;
  symbol.set_file_containing_symbol("vmd.v1.VmService");
  ASSERT_TRUE(stream->Write(symbol));
  ServerReflectionResponse described;
  ASSERT_TRUE(stream->Read(&described));
  ASSERT_TRUE(described.has_file_descriptor_response()) << described.DebugString();
  std::set<std::string> files;
  bool has_list_vms = false;
  for (const std::string& bytes : described.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto file;
    ASSERT_TRUE(file.ParseFromString(bytes));
    files.insert(file.name());
    for (const auto& service : file.service()) {
      for (const auto& method : service.method()) has_list_vms |= method.name() == "ListVms";
    }
  }
  // The file and what it imports, so a client can build the descriptors.
  EXPECT_TRUE(files.contains("vmd/v1/vm.proto"));
  EXPECT_TRUE(files.contains("vmd/v1/msr.proto"));
  EXPECT_TRUE(files.contains("google/protobuf/timestamp.proto"));
  EXPECT_TRUE(has_list_vms);

  ServerReflectionRequest missing;
  missing.set_file_by_filename("no/such.proto");
  ASSERT_TRUE(stream->Write(missing));
  ServerReflectionResponse error;
  ASSERT_TRUE(stream->Read(&error));
  EXPECT_EQ(error.error_response().error_code(), grpc::StatusCode::NOT_FOUND);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(GenericClientTest, ErrorsCarryGoogleRpcDetails) {
  auto vms = vmd_.vms();
  v1::CreateVmRequest bad;
  *bad.mutable_spec() = SmallSpec("a");
  bad.mutable_spec()->set_memory_mib(1);
  v1::Vm vm;
  grpc::ClientContext create_ctx;
  grpc::Status invalid = vms->CreateVm(&create_ctx, bad, &vm);
  ASSERT_EQ(invalid.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(invalid.error_message(), "spec.memory_mib: must be at least 16, got 1");
  google::rpc::Status details = Details(invalid);
  std::optional<google::rpc::BadRequest> bad_request = Detail<google::rpc::BadRequest>(details);
  ASSERT_TRUE(bad_request.has_value());
  EXPECT_EQ(bad_request->field_violations(0).field(), "spec.memory_mib");
  std::optional<google::rpc::ErrorInfo> info = Detail<google::rpc::ErrorInfo>(details);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->domain(), "vmd.dev");
  EXPECT_EQ(info->reason(), "INVALID_FIELD");

  // An 8 KB label key is quoted cut, so the answer still fits the metadata.
  v1::CreateVmRequest huge;
  *huge.mutable_spec() = SmallSpec("a");
  (*huge.mutable_spec()->mutable_labels())[std::string(8192, 'k') + "\n"] = "v";
  grpc::ClientContext huge_ctx;
  grpc::Status cut = vms->CreateVm(&huge_ctx, huge, &vm);
  EXPECT_EQ(cut.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << cut.error_message();
  EXPECT_EQ(cut.error_message().find('\n'), std::string::npos);

  grpc::ClientContext get_ctx;
  v1::GetVmRequest get;
  get.set_name("nope");
  grpc::Status not_found = vms->GetVm(&get_ctx, get, &vm);
  ASSERT_EQ(not_found.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Detail<google::rpc::ErrorInfo>(Details(not_found))->reason(), "VM_NOT_FOUND");

  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec("a");
  grpc::ClientContext ok_ctx;
  ASSERT_TRUE(vms->CreateVm(&ok_ctx, create, &vm).ok());
  v1::PauseVmRequest pause;
  pause.set_name("a");
  grpc::ClientContext pause_ctx;
  grpc::Status illegal = vms->PauseVm(&pause_ctx, pause, &vm);
  ASSERT_EQ(illegal.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  std::optional<google::rpc::PreconditionFailure> failure =
      Detail<google::rpc::PreconditionFailure>(Details(illegal));
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->violations(0).type(), "STATE");
  EXPECT_EQ(failure->violations(0).subject(), "vms/a");
  EXPECT_EQ(Detail<google::rpc::ErrorInfo>(Details(illegal))->metadata().at("state"), "VM_STATE_CREATED");
}

// SIGTERM ends open streams instead of waiting for gRPC's 2 s shutdown
// deadline: vmd is gone well within a second, and the watcher is told to
// reconnect.
TEST_F(GenericClientTest, SigtermDoesNotWaitForAnOpenWatch) {
  auto vms = vmd_.vms();
  grpc::ClientContext ctx;
  v1::WatchEventsRequest request;
  auto stream = vms->WatchEvents(&ctx, request);
  v1::Vm vm;
  grpc::ClientContext create_ctx;
  v1::CreateVmRequest create;
  *create.mutable_spec() = SmallSpec("a");
  ASSERT_TRUE(vms->CreateVm(&create_ctx, create, &vm).ok());
  v1::Event event;
  ASSERT_TRUE(stream->Read(&event)) << "the watch is open and delivering";
  // A watcher reads on until its stream ends and lets the call go, as any
  // client does (a call still held keeps its connection, and gRPC's
  // shutdown waits for connections up to the deadline).
  grpc::Status ended;
  std::thread watcher([&] {
    while (stream->Read(&event)) {
    }
    ended = stream->Finish();
    stream.reset();  // a finished call still holds the connection open
  });

  const auto start = std::chrono::steady_clock::now();
  const int status = vmd_.Kill(SIGTERM);
  const auto took = std::chrono::steady_clock::now() - start;
  watcher.join();
  ASSERT_TRUE(WIFEXITED(status)) << "vmd died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took, std::chrono::seconds(1))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAVAILABLE) << ended.error_message();
  EXPECT_EQ(ended.error_message(), "vmd is shutting down; reconnect") << "vmd ended it, not the deadline";
}

}  // namespace
}  // namespace vmd::testing

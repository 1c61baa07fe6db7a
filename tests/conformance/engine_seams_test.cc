// The engine's seams, the same programs on sim and on kvm (VmRunner, the
// engine's own vCPU loop): MSIs through irqfds, guest MMIO reaching a device
// on the bus, ioeventfds taking guest writes without an exit, dirty logging
// of guest writes, and a VM saved to files and restored in a new engine --
// paused, private or shared.
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>
#include "absl/strings/str_cat.h"
#include "backend/devices/device.h"
#include "backend/engine/vm_runner.h"
#include "backend/hypervisor/msi_irqfd.h"
#include "backend/snapshot/snapshot_files.h"
#include "tests/conformance/backend_vm.h"
#include "tests/engine_test_config.h"

namespace vmd::conformance {
namespace {

using std::chrono::milliseconds;

// Outside RAM (a 64 MiB VM) but inside the firmware's identity map.
constexpr uint64_t kDeviceGpa = 0xd0000000;
constexpr uint64_t kUnclaimedGpa = 0xe0000000;

// Remembers what the guest wrote; reads give back the last write.
class RecordingDevice final : public engine::Device {
 public:
  absl::string_view key() const override { return "test-recorder"; }
  void Read(uint64_t, std::span<uint8_t> data) override {
    std::lock_guard lock(mu_);
    std::memcpy(data.data(), &last_, std::min(data.size(), sizeof(last_)));
  }
  void Write(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(mu_);
    last_ = 0;
    std::memcpy(&last_, data.data(), std::min(data.size(), sizeof(last_)));
    last_offset_ = offset;
    ++writes_;
  }
  uint64_t writes() {
    std::lock_guard lock(mu_);
    return writes_;
  }
  uint64_t last_offset() {
    std::lock_guard lock(mu_);
    return last_offset_;
  }

 private:
  std::mutex mu_;
  uint64_t last_ = 0;
  uint64_t last_offset_ = 0;
  uint64_t writes_ = 0;
};

vmd_probe_op Op(uint32_t kind, uint32_t index, uint64_t arg, uint64_t arg2 = 0, uint32_t subleaf = 0) {
  vmd_probe_op op{};
  op.kind = kind;
  op.index = index;
  op.arg = arg;
  op.arg2 = arg2;
  op.subleaf = subleaf;
  return op;
}

class EngineSeamsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() == "kvm") {
      if (!KvmUsable(&why)) GTEST_SKIP() << "kvm is not usable here: " << why;
      std::cout << "[kvm] ran on real KVM" << std::endl;
    }
  }
  absl::StatusOr<std::vector<vmd_probe_op>> Ops(BackendVm& vm, std::vector<vmd_probe_op> ops) {
    return vm.runner().RunMailboxOps(ops, milliseconds(5000));
  }
};

TEST_P(EngineSeamsTest, AnIrqfdRaisesItsMsiInTheGuest) {
  BackendVm vm(GetParam());
  ASSERT_TRUE(vm.status().ok()) << vm.status();
  constexpr uint8_t kVector = 0x51;
  absl::StatusOr<std::unique_ptr<hv::MsiIrqfd>> irqfd = hv::MsiIrqfd::Create(vm.runner().vm(), hv::FixedMsi(0, kVector));
  ASSERT_TRUE(irqfd.ok()) << irqfd.status();
  EXPECT_GE((*irqfd)->gsi(), 24u) << "MSI routes live above the irqchip's pins";
  // Signalled once the program runs (its first op, a write to a device,
  // says so): the wait counts interrupts from the program's start, while one
  // that came earlier -- during boot or in the idle loop -- would not count.
  RecordingDevice started;
  ASSERT_TRUE(vm.runner().bus().Insert(engine::BusSpace::kMmio, kDeviceGpa, 0x1000, &started).ok());
  std::thread signal([&] {
    const auto deadline = std::chrono::steady_clock::now() + milliseconds(5000);
    while (started.writes() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    EXPECT_TRUE((*irqfd)->Signal().ok());
  });
  auto done = Ops(vm, {Op(VMD_PROBE_WRITE_MEM, 4, kDeviceGpa, 1),
                       Op(VMD_PROBE_WAIT_INTERRUPT, kVector, 0, 0, /*timeout_us=*/2000000)});
  signal.join();
  ASSERT_TRUE(vm.runner().bus().Remove(&started).ok());
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->at(1).status, VMD_PROBE_OK);
  EXPECT_EQ(done->at(1).out[0], 1u) << "one interrupt taken";

  // A level-triggered binding (with a resample eventfd) is accepted too.
  absl::StatusOr<uint32_t> gsi = vm.runner().vm().AddMsiRoute(hv::FixedMsi(0, kVector));
  ASSERT_TRUE(gsi.ok()) << gsi.status();
  int trigger = eventfd(0, EFD_CLOEXEC), resample = eventfd(0, EFD_CLOEXEC);
  EXPECT_TRUE(vm.runner().vm().AssignIrqfd(*gsi, trigger, resample).ok());
  EXPECT_TRUE(vm.runner().vm().DeassignIrqfd(*gsi, trigger).ok());
  EXPECT_TRUE(vm.runner().vm().RemoveMsiRoute(*gsi).ok());
  close(trigger);
  close(resample);
}

TEST_P(EngineSeamsTest, GuestMmioReachesTheDeviceOnTheBus) {
  BackendVm vm(GetParam());
  ASSERT_TRUE(vm.status().ok()) << vm.status();
  RecordingDevice device;
  ASSERT_TRUE(vm.runner().bus().Insert(engine::BusSpace::kMmio, kDeviceGpa, 0x1000, &device).ok());
  auto done = Ops(vm, {Op(VMD_PROBE_WRITE_MEM, 4, kDeviceGpa + 0x10, 0xabcd1234),
                       Op(VMD_PROBE_READ_MEM, 4, kDeviceGpa + 0x10), Op(VMD_PROBE_READ_MEM, 2, kUnclaimedGpa),
                       Op(VMD_PROBE_WRITE_MEM, 8, kUnclaimedGpa, 1)});
  ASSERT_TRUE(done.ok()) << done.status();
  for (const vmd_probe_op& op : *done) EXPECT_EQ(op.status, VMD_PROBE_OK) << "vector " << op.vector;
  EXPECT_EQ(device.writes(), 1u);
  EXPECT_EQ(device.last_offset(), 0x10u);
  EXPECT_EQ(done->at(1).out[0], 0xabcd1234u) << "the device answered the read";
  EXPECT_EQ(done->at(2).out[0], 0xffffu) << "nothing there: all ones, as on a PC";
  ASSERT_TRUE(vm.runner().bus().Remove(&device).ok());
}

TEST_P(EngineSeamsTest, AnIoeventfdTakesTheWriteWithoutAnExit) {
  BackendVm vm(GetParam());
  ASSERT_TRUE(vm.status().ok()) << vm.status();
  RecordingDevice device;
  ASSERT_TRUE(vm.runner().bus().Insert(engine::BusSpace::kMmio, kDeviceGpa, 0x1000, &device).ok());
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  const hv::IoEventfd doorbell{.space = hv::IoEventfd::Space::kMmio, .address = kDeviceGpa + 0x100, .length = 4,
                               .datamatch = 7, .eventfd = efd};
  ASSERT_TRUE(vm.runner().vm().AssignIoeventfd(doorbell).ok());
  EXPECT_FALSE(vm.runner().vm().AssignIoeventfd(doorbell).ok()) << "the same doorbell twice";
  auto done = Ops(vm, {Op(VMD_PROBE_WRITE_MEM, 4, kDeviceGpa + 0x100, 7), Op(VMD_PROBE_WRITE_MEM, 4, kDeviceGpa + 0x100, 7),
                       Op(VMD_PROBE_WRITE_MEM, 4, kDeviceGpa + 0x100, 8)});
  ASSERT_TRUE(done.ok()) << done.status();
  uint64_t count = 0;
  ASSERT_EQ(read(efd, &count, sizeof(count)), static_cast<ssize_t>(sizeof(count)));
  EXPECT_EQ(count, 2u) << "two matching writes signalled the eventfd";
  EXPECT_EQ(device.writes(), 1u) << "only the write that did not match exited to the device";
  ASSERT_TRUE(vm.runner().vm().DeassignIoeventfd(doorbell).ok());
  close(efd);
  ASSERT_TRUE(vm.runner().bus().Remove(&device).ok());
}

TEST_P(EngineSeamsTest, AGracefulStopTheMomentTheVmStartsReachesTheGuest) {
  // The request may come before the firmware has enabled its APIC, when the
  // interrupt that carries it is dropped: the engine must ask again.
  for (int round = 0; round < 5; ++round) {
    char tmpl[] = "/tmp/vmd-conf-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    auto runner = engine::VmRunner::Create(testing::TestEngineConfig(GetParam(), "counter", dir, 1, 64));
    ASSERT_TRUE(runner.ok()) << runner.status();
    ASSERT_TRUE((*runner)->Start().ok());
    absl::StatusOr<bool> graceful = (*runner)->Stop(milliseconds(5000), /*force=*/false);
    ASSERT_TRUE(graceful.ok()) << graceful.status();
    EXPECT_TRUE(*graceful) << "round " << round << ": the guest powered off itself";
    runner->reset();
    std::filesystem::remove_all(dir);
  }
}

TEST_P(EngineSeamsTest, TheDirtyLogHoldsThePagesTheGuestWrote) {
  BackendVm vm(GetParam());
  ASSERT_TRUE(vm.status().ok()) << vm.status();
  hv::Vm& hv_vm = vm.runner().vm();
  EXPECT_EQ(hv_vm.TakeDirtyLog().status().code(), absl::StatusCode::kFailedPrecondition) << "logging is off";
  ASSERT_TRUE(hv_vm.SetDirtyLogging(true).ok());
  ASSERT_TRUE(hv_vm.TakeDirtyLog().ok());  // start from clean
  constexpr uint64_t kWritten = 0x1234000, kUntouched = 0x2345000;
  auto done = Ops(vm, {Op(VMD_PROBE_WRITE_MEM, 8, kWritten + 8, 42), Op(VMD_PROBE_READ_MEM, 8, kUntouched)});
  ASSERT_TRUE(done.ok()) << done.status();
  absl::StatusOr<hv::DirtyBitmap> dirty = hv_vm.TakeDirtyLog();
  ASSERT_TRUE(dirty.ok()) << dirty.status();
  EXPECT_TRUE(dirty->IsDirty(kWritten));
  EXPECT_FALSE(dirty->IsDirty(kUntouched)) << "a read dirties nothing";
  EXPECT_TRUE(dirty->IsDirty(VMD_PROBE_MAILBOX_GPA)) << "the guest wrote its results there";
  EXPECT_GE(dirty->CountDirty(), 2u);
  // Taken means cleared.
  absl::StatusOr<hv::DirtyBitmap> again = hv_vm.TakeDirtyLog();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->IsDirty(kWritten));
  ASSERT_TRUE(hv_vm.SetDirtyLogging(false).ok());
}

class EngineRestoreTest : public EngineSeamsTest {
 protected:
  void SetUp() override {
    EngineSeamsTest::SetUp();
    char tmpl[] = "/tmp/vmd-restore-XXXXXX";
    root_ = mkdtemp(tmpl);
    for (const char* d : {"/a", "/b", "/snap"}) std::filesystem::create_directory(root_ + d);
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  engine::EngineConfig Config(const std::string& dir, const std::string& workload) {
    return testing::TestEngineConfig(GetParam(), workload, root_ + dir);
  }
  template <typename Pred>
  static bool Eventually(Pred pred) {
    for (int i = 0; i < 500 && !pred(); ++i) std::this_thread::sleep_for(milliseconds(10));
    return pred();
  }
  std::string root_;
};

TEST_P(EngineRestoreTest, ACounterRestoredInANewEngineStartsPausedAndGoesOn) {
  auto first = engine::VmRunner::Create(Config("/a", "counter"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Start().ok());
  ASSERT_TRUE(Eventually([&] { return (*first)->Status().guest_counter >= 5; }));
  EXPECT_EQ((*first)->SaveState(root_ + "/snap").status().code(), absl::StatusCode::kFailedPrecondition)
      << "only a paused VM is saved";
  ASSERT_TRUE((*first)->Pause().ok());
  absl::StatusOr<engine::v1::SaveStateResponse> saved = (*first)->SaveState(root_ + "/snap");
  ASSERT_TRUE(saved.ok()) << saved.status();
  EXPECT_EQ(saved->memory_bytes(), 32ull << 20);
  EXPECT_LT(saved->memory_bytes_written(), saved->memory_bytes()) << "zero pages stay holes";
  const uint64_t counter = (*first)->Status().guest_counter;
  first->reset();

  engine::EngineConfig config = Config("/b", "counter");
  config.set_start_paused(true);
  config.mutable_restore()->set_snapshot_dir(root_ + "/snap");
  auto second = engine::VmRunner::Create(config);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE((*second)->Start().ok());
  EXPECT_EQ((*second)->Status().state, engine::RunState::kPaused);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ((*second)->Status().guest_counter, counter) << "started paused: no progress";
  ASSERT_TRUE((*second)->Resume().ok());
  ASSERT_TRUE(Eventually([&] { return (*second)->Status().guest_counter > counter + 3; }));
  auto graceful = (*second)->Stop(milliseconds(5000), /*force=*/false);
  ASSERT_TRUE(graceful.ok());
  EXPECT_TRUE(*graceful) << "the restored guest answers the power-off request";
}

TEST_P(EngineRestoreTest, AClonesWritesStayPrivateUnlessSharedIsAsked) {
  auto first = engine::VmRunner::Create(Config("/a", "probe"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Start().ok());
  constexpr uint64_t kGpa = 0x1000000;
  ASSERT_TRUE((*first)->RunMailboxOps({{Op(VMD_PROBE_WRITE_MEM, 8, kGpa, 0x1111)}}, milliseconds(5000)).ok());
  ASSERT_TRUE((*first)->Pause().ok());
  ASSERT_TRUE((*first)->SaveState(root_ + "/snap").ok());
  first->reset();
  auto file_value = [&] {
    std::ifstream in(snapshot::MemoryPath(root_ + "/snap"), std::ios::binary);
    in.seekg(kGpa);
    uint64_t v = 0;
    in.read(reinterpret_cast<char*>(&v), sizeof(v));
    return v;
  };
  ASSERT_EQ(file_value(), 0x1111u);

  for (engine::v1::MemoryMapping mapping : {engine::v1::MEMORY_MAPPING_PRIVATE, engine::v1::MEMORY_MAPPING_SHARED}) {
    SCOPED_TRACE(engine::v1::MemoryMapping_Name(mapping));
    std::filesystem::remove_all(root_ + "/b");
    std::filesystem::create_directory(root_ + "/b");
    engine::EngineConfig config = Config("/b", "probe");
    config.mutable_restore()->set_snapshot_dir(root_ + "/snap");
    config.mutable_restore()->set_memory_mapping(mapping);
    auto clone = engine::VmRunner::Create(config);
    ASSERT_TRUE(clone.ok()) << clone.status();
    ASSERT_TRUE((*clone)->Start().ok());
    // The memory and the mailbox numbering go on from the snapshot.
    auto done = (*clone)->RunMailboxOps({{Op(VMD_PROBE_READ_MEM, 8, kGpa), Op(VMD_PROBE_WRITE_MEM, 8, kGpa, 0x2222)}},
                                        milliseconds(5000));
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->at(0).out[0], 0x1111u);
    (void)(*clone)->Stop(milliseconds(0), /*force=*/true);
    clone->reset();
    EXPECT_EQ(file_value(), mapping == engine::v1::MEMORY_MAPPING_SHARED ? 0x2222u : 0x1111u);
  }
}

TEST_P(EngineRestoreTest, ARestoreThatDoesNotMatchTheConfigIsRefused) {
  auto first = engine::VmRunner::Create(Config("/a", "probe"));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->Start().ok());
  ASSERT_TRUE((*first)->Pause().ok());
  ASSERT_TRUE((*first)->SaveState(root_ + "/snap").ok());
  EXPECT_FALSE((*first)->SaveState(root_ + "/snap").ok()) << "a snapshot is never overwritten";
  first->reset();
  engine::EngineConfig config = Config("/b", "counter");
  config.mutable_restore()->set_snapshot_dir(root_ + "/snap");
  absl::Status s = engine::VmRunner::Create(config).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("workload probe"), std::string::npos) << s;
  config.mutable_restore()->set_snapshot_dir(root_ + "/nothing");
  EXPECT_EQ(engine::VmRunner::Create(config).status().code(), absl::StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineSeamsTest, ::testing::Values("sim", "kvm"),
                         [](const auto& info) { return info.param; });
INSTANTIATE_TEST_SUITE_P(Backends, EngineRestoreTest, ::testing::Values("sim", "kvm"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vmd::conformance

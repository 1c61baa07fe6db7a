// The device bus: routing by space and address, overlap and key rules,
// hot-unplug, and sleep/wake/save/restore over every device alike.
#include "backend/devices/device_bus.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/devices/console_log.h"
#include "backend/devices/serial.h"

namespace vmd::engine {
namespace {

// Logs what happens to it into a shared journal.
class FakeDevice final : public Device {
 public:
  FakeDevice(std::string key, std::vector<std::string>* journal) : key_(std::move(key)), journal_(journal) {}
  absl::string_view key() const override { return key_; }
  void Read(uint64_t offset, std::span<uint8_t> data) override {
    journal_->push_back(key_ + " read " + std::to_string(offset));
    std::fill(data.begin(), data.end(), 0x5a);
  }
  void Write(uint64_t offset, std::span<const uint8_t>) override {
    journal_->push_back(key_ + " write " + std::to_string(offset));
  }
  absl::Status Sleep() override {
    journal_->push_back(key_ + " sleep");
    return absl::OkStatus();
  }
  absl::Status Wake() override {
    journal_->push_back(key_ + " wake");
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> Save() override { return "state of " + key_; }
  absl::Status Restore(absl::string_view state) override {
    journal_->push_back(key_ + " restore " + std::string(state));
    return absl::OkStatus();
  }

 private:
  const std::string key_;
  std::vector<std::string>* const journal_;
};

TEST(DeviceBusTest, RoutesByAddressWithinEachSpace) {
  std::vector<std::string> journal;
  FakeDevice uart("uart", &journal), mmio("mmio", &journal);
  DeviceBus bus;
  ASSERT_TRUE(bus.Insert(BusSpace::kPio, 0x3f8, 8, &uart).ok());
  ASSERT_TRUE(bus.Insert(BusSpace::kMmio, 0x3f8, 0x1000, &mmio).ok()) << "spaces are separate";
  uint8_t byte = 0;
  EXPECT_TRUE(bus.Read(BusSpace::kPio, 0x3fd, {&byte, 1}));
  EXPECT_EQ(byte, 0x5a);
  EXPECT_TRUE(bus.Write(BusSpace::kMmio, 0x400, {&byte, 1}));
  EXPECT_FALSE(bus.Write(BusSpace::kPio, 0x400, {&byte, 1})) << "nothing at port 0x400";
  EXPECT_FALSE(bus.Read(BusSpace::kPio, 0x3f7, {&byte, 1}));
  EXPECT_FALSE(bus.Read(BusSpace::kPio, 0x400, {&byte, 1}));
  EXPECT_EQ(journal, (std::vector<std::string>{"uart read 5", "mmio write 8"}));
}

TEST(DeviceBusTest, RefusesOverlapsAndDuplicateKeys) {
  std::vector<std::string> journal;
  FakeDevice a("a", &journal), b("b", &journal), a_again("a", &journal);
  DeviceBus bus;
  ASSERT_TRUE(bus.Insert(BusSpace::kMmio, 0x1000, 0x100, &a).ok());
  EXPECT_EQ(bus.Insert(BusSpace::kMmio, 0x10ff, 1, &b).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(bus.Insert(BusSpace::kMmio, 0xf00, 0x101, &b).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(bus.Insert(BusSpace::kMmio, 0x1100, 1, &b).ok()) << "adjacent is fine";
  EXPECT_TRUE(bus.Insert(BusSpace::kMmio, 0x2000, 1, &a).ok()) << "one device, two ranges";
  EXPECT_EQ(bus.Insert(BusSpace::kMmio, 0x3000, 1, &a_again).code(), absl::StatusCode::kAlreadyExists)
      << "a second device with key a";
  EXPECT_EQ(bus.Insert(BusSpace::kMmio, 0x4000, 0, &b).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeviceBusTest, RemoveTakesEveryRangeOfTheDevice) {
  std::vector<std::string> journal;
  FakeDevice a("a", &journal);
  DeviceBus bus;
  ASSERT_TRUE(bus.Insert(BusSpace::kMmio, 0x1000, 0x10, &a).ok());
  ASSERT_TRUE(bus.Insert(BusSpace::kPio, 0x80, 1, &a).ok());
  ASSERT_TRUE(bus.Remove(&a).ok());
  uint8_t byte = 0;
  EXPECT_FALSE(bus.Read(BusSpace::kMmio, 0x1000, {&byte, 1}));
  EXPECT_FALSE(bus.Read(BusSpace::kPio, 0x80, {&byte, 1}));
  EXPECT_EQ(bus.Remove(&a).code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(bus.Insert(BusSpace::kMmio, 0x1000, 0x10, &a).ok()) << "and can come back (hot-plug)";
}

TEST(DeviceBusTest, SleepsInReverseWakesAndRestoresInOrderByKey) {
  std::vector<std::string> journal;
  FakeDevice a("a", &journal), b("b", &journal);
  DeviceBus bus;
  ASSERT_TRUE(bus.Insert(BusSpace::kPio, 1, 1, &a).ok());
  ASSERT_TRUE(bus.Insert(BusSpace::kPio, 2, 1, &b).ok());
  ASSERT_TRUE(bus.SleepAll().ok());
  absl::StatusOr<std::map<std::string, std::string>> saved = bus.SaveAll();
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(*saved, (std::map<std::string, std::string>{{"a", "state of a"}, {"b", "state of b"}}));
  ASSERT_TRUE(bus.RestoreAll(*saved).ok());
  ASSERT_TRUE(bus.WakeAll().ok());
  EXPECT_EQ(journal, (std::vector<std::string>{"b sleep", "a sleep", "a restore state of a", "b restore state of b",
                                               "a wake", "b wake"}));
  // A state for a device the VM lacks, or a device without its state.
  EXPECT_EQ(bus.RestoreAll({{"a", ""}, {"b", ""}, {"c", ""}}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bus.RestoreAll({{"a", ""}}).code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeviceBusTest, TheUartSavesAndRestoresItsRegisters) {
  std::string path = ::testing::TempDir() + "/vmd-bus-uart.log";
  auto log = ConsoleLog::Open(path);
  ASSERT_TRUE(log.ok());
  Serial16550 uart(log->get()), restored(log->get());
  const uint8_t lcr = 0x83, scratch = 0x42;
  uart.Write(3, {&lcr, 1});      // LCR with DLAB
  uart.Write(7, {&scratch, 1});  // scratch
  absl::StatusOr<std::string> state = uart.Save();
  ASSERT_TRUE(state.ok());
  ASSERT_TRUE(restored.Restore(*state).ok());
  uint8_t v = 0;
  restored.Read(3, {&v, 1});
  EXPECT_EQ(v, lcr);
  restored.Read(7, {&v, 1});
  EXPECT_EQ(v, scratch);
  EXPECT_EQ(restored.Restore("not json").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace vmd::engine

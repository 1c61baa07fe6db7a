// MsrHandlers: read sources, write actions, slots, thread safety.
#include "backend/msr/msr_handlers.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace vmd::msr {
namespace {

v1::MsrHandler Handler(uint32_t index, v1::MsrHandler::ReadSource read, v1::MsrHandler::WriteAction write,
                       uint64_t constant = 0) {
  v1::MsrHandler h;
  h.set_index(index);
  h.set_read(read);
  h.set_write(write);
  h.set_constant(constant);
  return h;
}

TEST(MsrHandlersTest, CoreThreadCountLayout) {
  EXPECT_EQ(CoreThreadCountValue({4, 8}), 0x00040008u);
  EXPECT_EQ(CoreThreadCountValue({1, 1}), 0x00010001u);
}

TEST(MsrHandlersTest, ReadSourcesAndWriteActions) {
  auto handlers = MsrHandlers::Create(
      {
          Handler(0x35, v1::MsrHandler::READ_SOURCE_TOPOLOGY, v1::MsrHandler::WRITE_ACTION_GP),
          Handler(0x40, v1::MsrHandler::READ_SOURCE_CONSTANT, v1::MsrHandler::WRITE_ACTION_IGNORE, 0x1234),
          Handler(0x41, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 7),
          Handler(0x42, v1::MsrHandler::READ_SOURCE_GP, v1::MsrHandler::WRITE_ACTION_STORE),
      },
      MsrTopology{6, 12});
  ASSERT_TRUE(handlers.ok()) << handlers.status();
  MsrHandlers& h = **handlers;
  ASSERT_EQ(h.size(), 4u);
  EXPECT_EQ(h.SlotOf(0x35), 0u);
  EXPECT_EQ(h.SlotOf(0x42), 3u);
  EXPECT_FALSE(h.SlotOf(0x36).has_value());
  EXPECT_EQ(h.IndexOf(2), 0x41u);

  EXPECT_EQ(h.Read(0), MsrAccessResult::Value(0x0006000c));  // (cores << 16) | threads
  EXPECT_EQ(h.Write(0, 1), MsrAccessResult::Gp());
  EXPECT_EQ(h.Read(1), MsrAccessResult::Value(0x1234));
  EXPECT_FALSE(h.Write(1, 99).gp);
  EXPECT_EQ(h.Read(1), MsrAccessResult::Value(0x1234));  // IGNORE
  EXPECT_EQ(h.Read(2), MsrAccessResult::Value(7));       // initially constant
  EXPECT_FALSE(h.Write(2, 0xdead).gp);
  EXPECT_EQ(h.Read(2), MsrAccessResult::Value(0xdead));  // last written
  EXPECT_EQ(h.Read(3), MsrAccessResult::Gp());
  EXPECT_FALSE(h.Write(3, 5).gp);
  EXPECT_EQ(h.Read(99), MsrAccessResult::Gp());  // no such slot
}

TEST(MsrHandlersTest, CreateRefusesUnsortedOrUnset) {
  EXPECT_FALSE(MsrHandlers::Create({Handler(0x41, v1::MsrHandler::READ_SOURCE_GP, v1::MsrHandler::WRITE_ACTION_GP),
                                    Handler(0x40, v1::MsrHandler::READ_SOURCE_GP, v1::MsrHandler::WRITE_ACTION_GP)},
                                   {})
                   .ok());
  EXPECT_FALSE(
      MsrHandlers::Create({Handler(0x40, v1::MsrHandler::READ_SOURCE_UNSPECIFIED, v1::MsrHandler::WRITE_ACTION_GP)}, {})
          .ok());
}

// msr.proto: an unset write action means GP.
TEST(MsrHandlersTest, UnsetWriteMeansGp) {
  auto handlers =
      MsrHandlers::Create({Handler(0x40, v1::MsrHandler::READ_SOURCE_CONSTANT, v1::MsrHandler::WRITE_ACTION_UNSPECIFIED)}, {});
  ASSERT_TRUE(handlers.ok()) << handlers.status();
  EXPECT_EQ((*handlers)->Write(0, 1), MsrAccessResult::Gp());
  EXPECT_EQ(EffectiveWriteAction(v1::MsrHandler::WRITE_ACTION_UNSPECIFIED), v1::MsrHandler::WRITE_ACTION_GP);
  EXPECT_EQ(EffectiveWriteAction(v1::MsrHandler::WRITE_ACTION_STORE), v1::MsrHandler::WRITE_ACTION_STORE);
}

TEST(MsrHandlersTest, CarryOverKeepsStoredValues) {
  auto old_handlers = MsrHandlers::Create(
      {Handler(0x41, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 1),
       Handler(0x42, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 1)},
      {});
  ASSERT_TRUE(old_handlers.ok());
  (*old_handlers)->Write(0, 100);
  (*old_handlers)->Write(1, 200);
  auto new_handlers = MsrHandlers::Create(
      {Handler(0x41, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 2),
       Handler(0x42, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_IGNORE, 2),
       Handler(0x43, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 2)},
      {});
  ASSERT_TRUE(new_handlers.ok());
  (*new_handlers)->CarryOverFrom(**old_handlers);
  EXPECT_EQ((*new_handlers)->Read(0), MsrAccessResult::Value(100));
  EXPECT_EQ((*new_handlers)->Read(1), MsrAccessResult::Value(2));  // no longer stored
  EXPECT_EQ((*new_handlers)->Read(2), MsrAccessResult::Value(2));  // new
}

TEST(MsrHandlersTest, ConcurrentVcpusSeeWholeValues) {
  auto handlers = MsrHandlers::Create(
      {Handler(0x41, v1::MsrHandler::READ_SOURCE_LAST_WRITTEN, v1::MsrHandler::WRITE_ACTION_STORE, 0)}, {});
  ASSERT_TRUE(handlers.ok());
  MsrHandlers& h = **handlers;
  std::vector<std::thread> threads;
  for (uint64_t t = 1; t <= 4; ++t) {
    threads.emplace_back([&h, t] {
      const uint64_t pattern = t * 0x0101010101010101ull;
      for (int i = 0; i < 20000; ++i) {
        h.Write(0, pattern);
        const uint64_t v = h.Read(0).value;
        // Never torn: always one writer's whole pattern.
        ASSERT_EQ(v % 0x0101010101010101ull, 0u);
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace vmd::msr

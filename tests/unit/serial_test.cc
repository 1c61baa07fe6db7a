#include "backend/devices/serial.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace vmd::engine {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(SerialTest, TransmitsToTheConsoleLogAndIsAlwaysReady) {
  std::string path = std::filesystem::temp_directory_path() / ("vmd-serial-" + std::to_string(getpid()));
  {
    auto log = ConsoleLog::Open(path);
    ASSERT_TRUE(log.ok());
    Serial16550 uart(log->get());
    uint8_t lsr = 0;
    uart.Read(5, {&lsr, 1});
    EXPECT_EQ(lsr & 0x60, 0x60) << "THRE and TEMT";
    for (char c : std::string("hi\n")) {
      uint8_t b = static_cast<uint8_t>(c);
      uart.Write(0, {&b, 1});
    }
    // With DLAB set, offset 0 is the divisor latch, not the transmitter.
    uint8_t dlab = 0x80, div = 3, back = 0;
    uart.Write(3, {&dlab, 1});
    uart.Write(0, {&div, 1});
    uart.Read(0, {&back, 1});
    EXPECT_EQ(back, 3);
  }
  EXPECT_EQ(ReadFile(path), "hi\n");
  std::filesystem::remove(path);
}

TEST(SerialTest, ConsoleLogIsCapped) {
  std::string path = std::filesystem::temp_directory_path() / ("vmd-cap-" + std::to_string(getpid()));
  {
    auto log = ConsoleLog::Open(path);
    ASSERT_TRUE(log.ok());
    std::string line(1023, 'x');
    line += '\n';
    for (uint64_t i = 0; i < ConsoleLog::kMaxBytes / line.size() + 10; ++i) {
      for (char c : line) (*log)->Append(static_cast<uint8_t>(c));
    }
  }
  uint64_t size = std::filesystem::file_size(path);
  EXPECT_LE(size, ConsoleLog::kMaxBytes + 100);
  EXPECT_NE(ReadFile(path).find("size limit"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace vmd::engine

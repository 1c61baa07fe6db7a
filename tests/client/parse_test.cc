#include "client/parse.h"

#include <map>
#include <string>

#include "gtest/gtest.h"

namespace vmd::client {
namespace {

TEST(ParseLabelTest, SplitsAtTheFirstEquals) {
  auto label = ParseLabel("env=prod");
  ASSERT_TRUE(label.ok()) << label.status();
  EXPECT_EQ(label->first, "env");
  EXPECT_EQ(label->second, "prod");

  label = ParseLabel("k=a=b");
  ASSERT_TRUE(label.ok()) << label.status();
  EXPECT_EQ(label->first, "k");
  EXPECT_EQ(label->second, "a=b");
}

TEST(ParseLabelTest, AcceptsAnEmptyValue) {
  auto label = ParseLabel("flag=");
  ASSERT_TRUE(label.ok()) << label.status();
  EXPECT_EQ(label->first, "flag");
  EXPECT_EQ(label->second, "");
}

TEST(ParseLabelTest, RejectsAKeyWithoutValue) {
  auto label = ParseLabel("k");
  EXPECT_EQ(label.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(label.status().message(), "label \"k\" must be key=value");
}

TEST(ParseLabelTest, RejectsAnEmptyKey) {
  auto label = ParseLabel("=v");
  EXPECT_EQ(label.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(label.status().message(), "label \"=v\" has an empty key");
  EXPECT_FALSE(ParseLabel("=").ok());
  EXPECT_FALSE(ParseLabel("").ok());
}

TEST(ParseLabelsTest, CollectsLabels) {
  auto labels = ParseLabels({"a=1", "b=2", "a=1"});
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels,
            (std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}}));
}

TEST(ParseLabelsTest, RejectsConflictingValues) {
  auto labels = ParseLabels({"a=1", "a=2"});
  EXPECT_EQ(labels.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(labels.status().message(),
            "label key \"a\" given twice (\"1\" and \"2\")");
}

TEST(ParseLabelsTest, ReportsTheFirstBadLabel) {
  auto labels = ParseLabels({"a=1", "oops", "=x"});
  EXPECT_EQ(labels.status().message(), "label \"oops\" must be key=value");
}

TEST(ParseVmStateTest, AcceptsShortAndFullNamesInAnyCase) {
  EXPECT_EQ(*ParseVmState("running"), v1::VM_STATE_RUNNING);
  EXPECT_EQ(*ParseVmState("Paused"), v1::VM_STATE_PAUSED);
  EXPECT_EQ(*ParseVmState("STOPPED"), v1::VM_STATE_STOPPED);
  EXPECT_EQ(*ParseVmState("vm_state_crashed"), v1::VM_STATE_CRASHED);
  EXPECT_EQ(*ParseVmState("VM_STATE_CREATED"), v1::VM_STATE_CREATED);
  EXPECT_EQ(*ParseVmState("starting"), v1::VM_STATE_STARTING);
  EXPECT_EQ(*ParseVmState("stopping"), v1::VM_STATE_STOPPING);
}

TEST(ParseVmStateTest, RejectsUnknownAndUnspecified) {
  for (const char* text : {"", "run", "unspecified", "VM_STATE_UNSPECIFIED",
                           "3", "running "}) {
    auto state = ParseVmState(text);
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument)
        << "\"" << text << "\"";
  }
  EXPECT_EQ(ParseVmState("run").status().message(),
            "unknown VM state \"run\"; want created, starting, running, "
            "paused, stopping, stopped or crashed");
}

TEST(ParseBackendTest, AcceptsTheThreeBackends) {
  EXPECT_EQ(*ParseBackend("auto"), v1::BACKEND_AUTO);
  EXPECT_EQ(*ParseBackend("KVM"), v1::BACKEND_KVM);
  EXPECT_EQ(*ParseBackend("backend_sim"), v1::BACKEND_SIM);
}

TEST(ParseBackendTest, RejectsOthers) {
  EXPECT_FALSE(ParseBackend("").ok());
  EXPECT_FALSE(ParseBackend("unspecified").ok());
  EXPECT_FALSE(ParseBackend("qemu").ok());
  EXPECT_EQ(ParseBackend("qemu").status().message(),
            "unknown backend \"qemu\"; want auto, kvm or sim");
}

}  // namespace
}  // namespace vmd::client

#include "daemon/store/store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

#include <gtest/gtest.h>

namespace vmd::daemon {
namespace {

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vmd-store-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/vmd.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static v1::Vm MakeVm(const std::string& id, const std::string& name, v1::VmState state) {
    v1::Vm vm;
    vm.set_id(id);
    vm.mutable_spec()->set_name(name);
    vm.mutable_status()->set_state(state);
    return vm;
  }
  static v1::Event MakeEvent(const std::string& name) {
    v1::Event e;
    e.set_vm_name(name);
    e.set_type(v1::EVENT_TYPE_STATE_CHANGED);
    return e;
  }

  std::string dir_, path_;
};

TEST_F(StoreTest, CommitAndReload) {
  {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_EQ((*store)->schema_version(), Store::kSchemaVersion);
    Mutation m;
    m.put.push_back(MakeVm("id1", "a", v1::VM_STATE_CREATED));
    m.put.push_back(MakeVm("id2", "b", v1::VM_STATE_RUNNING));
    m.events = {MakeEvent("a"), MakeEvent("b")};
    m.request = RequestRecord{"req-1", "CreateVm", "a", "answer"};
    ASSERT_TRUE((*store)->Commit(m).ok());
    EXPECT_EQ(m.events[0].sequence(), 1u);
    EXPECT_EQ(m.events[1].sequence(), 2u);
    Mutation del;
    del.delete_ids.push_back("id2");
    del.events = {MakeEvent("b")};
    ASSERT_TRUE((*store)->Commit(del).ok());
    EXPECT_EQ(del.events[0].sequence(), 3u);
  }
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  auto vms = (*store)->LoadVms();
  ASSERT_TRUE(vms.ok());
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].spec().name(), "a");
  auto events = (*store)->LoadEvents(100);
  ASSERT_EQ(events->size(), 3u);
  EXPECT_EQ(events->back().sequence(), 3u);
  auto record = (*store)->FindRequest("req-1");
  ASSERT_TRUE(record.ok() && record->has_value());
  EXPECT_EQ((*record)->method, "CreateVm");
  EXPECT_EQ((*record)->response, "answer");
  // Sequences continue after a reopen.
  Mutation m;
  m.events = {MakeEvent("a")};
  ASSERT_TRUE((*store)->Commit(m).ok());
  EXPECT_EQ(m.events[0].sequence(), 4u);
}

TEST_F(StoreTest, AFailedCommitChangesNothing) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  Mutation first;
  first.request = RequestRecord{"req-1", "CreateVm", "a", "x"};
  first.events = {MakeEvent("a")};
  ASSERT_TRUE((*store)->Commit(first).ok());

  Mutation dup;  // same request_id: the whole mutation must roll back
  dup.put.push_back(MakeVm("id9", "z", v1::VM_STATE_CREATED));
  dup.events = {MakeEvent("z")};
  dup.request = RequestRecord{"req-1", "CreateVm", "z", "y"};
  EXPECT_EQ((*store)->Commit(dup).code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ((*store)->LoadVms()->size(), 0u);
  EXPECT_EQ((*store)->LoadEvents(100)->size(), 1u);
  EXPECT_EQ(dup.events[0].sequence(), 0u);

  Mutation next;  // the sequence was not consumed
  next.events = {MakeEvent("a")};
  ASSERT_TRUE((*store)->Commit(next).ok());
  EXPECT_EQ(next.events[0].sequence(), 2u);
}

// A process killed in the middle of a transaction leaves the store as it was
// at the last commit, and it opens cleanly.
TEST_F(StoreTest, ReopenAfterACrashInTheMiddleOfATransaction) {
  {
    auto store = Store::Open(path_);
    ASSERT_TRUE(store.ok());
    Mutation m;
    m.put.push_back(MakeVm("id1", "survivor", v1::VM_STATE_RUNNING));
    m.events = {MakeEvent("survivor")};
    ASSERT_TRUE((*store)->Commit(m).ok());
  }
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Enough uncommitted data to spill pages into the WAL before the kill.
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_exec(db, "PRAGMA cache_size=10; BEGIN IMMEDIATE;", nullptr, nullptr, nullptr);
    sqlite3_exec(db, "UPDATE vms SET vm = zeroblob(100)", nullptr, nullptr, nullptr);
    for (int i = 0; i < 2000; ++i) {
      std::string sql = "INSERT INTO vms (id, name, vm) VALUES ('x" + std::to_string(i) + "', 'n" +
                        std::to_string(i) + "', zeroblob(4000))";
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    }
    raise(SIGKILL);
  }
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_GT(std::filesystem::file_size(path_ + "-wal"), 100000u) << "the crash should leave uncommitted WAL frames";

  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  auto vms = (*store)->LoadVms();
  ASSERT_TRUE(vms.ok()) << vms.status();
  ASSERT_EQ(vms->size(), 1u);
  EXPECT_EQ((*vms)[0].spec().name(), "survivor");
  EXPECT_EQ((*vms)[0].status().state(), v1::VM_STATE_RUNNING);
  Mutation m;
  m.events = {MakeEvent("survivor")};
  ASSERT_TRUE((*store)->Commit(m).ok());
  EXPECT_EQ(m.events[0].sequence(), 2u);
}

// Schema 3 adds the request fingerprint: a record written by a schema 2 vmd
// migrates with an empty one, and a new record keeps its own.
TEST_F(StoreTest, MigratesRequestsToCarryAFingerprint) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE vms (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, vm BLOB NOT NULL);"
                         "CREATE TABLE events (seq INTEGER PRIMARY KEY, event BLOB NOT NULL);"
                         "CREATE TABLE requests (request_id TEXT PRIMARY KEY, method TEXT NOT NULL, vm_name TEXT "
                         "NOT NULL, response BLOB NOT NULL, created_unix INTEGER NOT NULL);"
                         "CREATE INDEX requests_by_age ON requests(created_unix);"
                         "ALTER TABLE requests ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;"
                         "INSERT INTO requests VALUES ('old', 'StartVm', 'a', x'', 0, 0);"
                         "PRAGMA user_version=2;",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->schema_version(), 3);
  auto old = (*store)->FindRequest("old");
  ASSERT_TRUE(old.ok() && old->has_value());
  EXPECT_EQ((*old)->fingerprint, "");
  Mutation m;
  m.request = RequestRecord{"new", "StopVm", "a", "answer", false, std::string("\x01\x02\0\x03", 4)};
  ASSERT_TRUE((*store)->Commit(m).ok());
  auto fresh = (*store)->FindRequest("new");
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*fresh)->fingerprint, std::string("\x01\x02\0\x03", 4));
}

TEST_F(StoreTest, RefusesANewerSchema) {
  { ASSERT_TRUE(Store::Open(path_).ok()); }
  sqlite3* db = nullptr;
  sqlite3_open(path_.c_str(), &db);
  sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  auto store = Store::Open(path_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("99"), std::string::npos);
}

TEST_F(StoreTest, PrunesEventsBeyondTheRetainedWindow) {
  auto store = Store::Open(path_);
  ASSERT_TRUE(store.ok());
  const uint64_t total = Store::kRetainedEvents + 2560;
  for (uint64_t done = 0; done < total; done += 40) {
    Mutation m;
    for (int i = 0; i < 40; ++i) m.events.push_back(MakeEvent("a"));
    ASSERT_TRUE((*store)->Commit(m).ok());
  }
  auto events = (*store)->LoadEvents(total);
  ASSERT_TRUE(events.ok());
  EXPECT_LE(events->size(), Store::kRetainedEvents + 256 * 40);
  EXPECT_LT(events->size(), total);
  EXPECT_EQ(events->back().sequence(), total);
}

}  // namespace
}  // namespace vmd::daemon

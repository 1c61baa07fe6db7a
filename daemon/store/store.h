// vmd's state store: SQLite in WAL mode with synchronous=FULL, so a commit is
// durable before the mutation is acknowledged. One Commit() is one
// transaction: VM records, the events they emit, and the request record that
// makes a retry idempotent land together or not at all.
#ifndef VMD_DAEMON_STORE_STORE_H_
#define VMD_DAEMON_STORE_STORE_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "vmd/v1/vm.pb.h"

struct sqlite3;

namespace vmd::daemon {

// The answer a mutating call gave, kept under its request_id.
struct RequestRecord {
  std::string request_id;
  std::string method;   // "StartVm", ...
  std::string vm_name;
  std::string response;  // the serialized response message
  // Begun but not answered: the operation recorded its intent (a start
  // that spawns an engine) and vmd may have died before it finished.
  bool pending = false;
  // RequestFingerprint of the request (request_fingerprint.h): a retry must
  // send the same request. Empty in records older than schema 3.
  std::string fingerprint;
};

struct Mutation {
  std::vector<v1::Vm> put;
  std::vector<std::string> delete_ids;
  std::vector<v1::Event> events;  // Commit assigns their sequence numbers
  std::optional<RequestRecord> request;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 3;
  // Events older than the newest kRetainedEvents are pruned.
  static constexpr uint64_t kRetainedEvents = 10000;
  // Request records are kept this long; a retry after that runs again.
  static constexpr int64_t kRequestRetentionSeconds = 24 * 3600;

  // Opens or creates the store, migrating an older schema; a newer schema
  // than this vmd knows is FAILED_PRECONDITION.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  absl::StatusOr<std::vector<v1::Vm>> LoadVms();
  // The newest `limit` events, oldest first.
  absl::StatusOr<std::vector<v1::Event>> LoadEvents(uint64_t limit);
  absl::StatusOr<std::optional<RequestRecord>> FindRequest(const std::string& request_id);

  // All or nothing. A request_id that is already recorded is ALREADY_EXISTS.
  absl::Status Commit(Mutation& mutation);

  int schema_version() const { return schema_version_; }

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  absl::Status Exec(const char* sql);
  absl::Status Migrate();
  absl::Status CommitLocked(Mutation& mutation);
  absl::Status PruneLocked();

  std::mutex mu_;
  sqlite3* db_;
  int schema_version_ = 0;
  uint64_t last_sequence_ = 0;
  uint64_t commits_ = 0;
};

}  // namespace vmd::daemon

#endif  // VMD_DAEMON_STORE_STORE_H_

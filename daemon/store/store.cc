#include "daemon/store/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>

#include "absl/strings/str_cat.h"
#include "backend/rpc/quoted_input.h"

namespace vmd::daemon {
namespace {

// Schema migrations, applied in order; PRAGMA user_version counts them.
constexpr const char* kMigrations[] = {
    // 1: VMs, the event log and request records.
    "CREATE TABLE vms (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, vm BLOB NOT NULL);"
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, event BLOB NOT NULL);"
    "CREATE TABLE requests (request_id TEXT PRIMARY KEY, method TEXT NOT NULL, vm_name TEXT NOT NULL,"
    "  response BLOB NOT NULL, created_unix INTEGER NOT NULL);"
    "CREATE INDEX requests_by_age ON requests(created_unix);",
    // 2: a request can be recorded as begun (pending) before it is answered.
    "ALTER TABLE requests ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;",
    // 3: a request's fingerprint, so that a retry with another request is refused.
    "ALTER TABLE requests ADD COLUMN fingerprint BLOB NOT NULL DEFAULT x'';",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

absl::Status SqliteError(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db);
  const std::string file = sqlite3_db_filename(db, "main") ? sqlite3_db_filename(db, "main") : "";
  // A full disk is the operator's to fix, not an internal error: say which
  // store, so they know which filesystem.
  if (code == SQLITE_FULL) {
    return absl::ResourceExhaustedError(absl::StrCat("state store ", file, ": ", what, ": the disk is full"));
  }
  return absl::InternalError(absl::StrCat("state store ", file, ": ", what, ": ", sqlite3_errmsg(db)));
}

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return rc_ == SQLITE_OK; }
  Statement& Bind(int i, const std::string& text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& BindBlob(int i, const std::string& blob) {
    sqlite3_bind_blob(stmt_, i, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int i, int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    if (p == nullptr) return "";  // an empty blob
    return std::string(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  // Private from the start: SQLite gives its -wal and -shm files the mode of
  // the database file.
  if (const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); fd >= 0) {
    fchmod(fd, 0600);
    close(fd);
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    absl::Status s = absl::UnavailableError(absl::StrCat("state store ", path, ": ", sqlite3_errmsg(db)));
    sqlite3_close(db);
    return s;
  }
  std::unique_ptr<Store> store(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
    if (absl::Status s = store->Exec(pragma); !s.ok()) return s;
  }
  if (absl::Status s = store->Migrate(); !s.ok()) return s;
  Statement max_seq(db, "SELECT COALESCE(MAX(seq), 0) FROM events");
  if (!max_seq.ok() || max_seq.Step() != SQLITE_ROW) return SqliteError(db, "reading the last event");
  store->last_sequence_ = static_cast<uint64_t>(max_seq.Int(0));
  return store;
}

Store::~Store() { sqlite3_close(db_); }

absl::Status Store::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return SqliteError(db_, sql);
  return absl::OkStatus();
}

absl::Status Store::Migrate() {
  Statement version(db_, "PRAGMA user_version");
  if (!version.ok() || version.Step() != SQLITE_ROW) return SqliteError(db_, "reading the schema version");
  int current = static_cast<int>(version.Int(0));
  if (current > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("state store schema version ", current,
                                                      " is newer than this vmd knows (", kSchemaVersion, ")"));
  }
  for (int v = current; v < kSchemaVersion; ++v) {
    // Each migration and its version bump commit together.
    std::string sql = absl::StrCat("BEGIN IMMEDIATE;", kMigrations[v], "PRAGMA user_version=", v + 1, ";COMMIT;");
    if (absl::Status s = Exec(sql.c_str()); !s.ok()) {
      Exec("ROLLBACK").IgnoreError();
      return s;
    }
  }
  schema_version_ = kSchemaVersion;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Vm>> Store::LoadVms() {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT vm FROM vms ORDER BY name");
  if (!q.ok()) return SqliteError(db_, "loading VMs");
  std::vector<v1::Vm> vms;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    if (!vms.emplace_back().ParseFromString(q.Blob(0))) {
      return absl::DataLossError("state store: a VM record does not parse");
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "loading VMs");
  return vms;
}

absl::StatusOr<std::vector<v1::Event>> Store::LoadEvents(uint64_t limit) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT event FROM (SELECT seq, event FROM events ORDER BY seq DESC LIMIT ?) ORDER BY seq");
  if (!q.ok()) return SqliteError(db_, "loading events");
  q.Bind(1, static_cast<int64_t>(limit));
  std::vector<v1::Event> events;
  int rc;
  while ((rc = q.Step()) == SQLITE_ROW) {
    if (!events.emplace_back().ParseFromString(q.Blob(0))) {
      return absl::DataLossError("state store: an event record does not parse");
    }
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, "loading events");
  return events;
}

absl::StatusOr<std::optional<RequestRecord>> Store::FindRequest(const std::string& request_id) {
  std::lock_guard lock(mu_);
  Statement q(db_, "SELECT method, vm_name, response, pending, fingerprint FROM requests WHERE request_id = ?");
  if (!q.ok()) return SqliteError(db_, "looking up a request");
  q.Bind(1, request_id);
  int rc = q.Step();
  if (rc == SQLITE_DONE) return std::nullopt;
  if (rc != SQLITE_ROW) return SqliteError(db_, "looking up a request");
  return RequestRecord{request_id, q.Blob(0), q.Blob(1), q.Blob(2), q.Int(3) != 0, q.Blob(4)};
}

absl::Status Store::Commit(Mutation& m) {
  std::lock_guard lock(mu_);
  if (absl::Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  const uint64_t first_sequence = last_sequence_;
  absl::Status s = CommitLocked(m);
  if (s.ok()) s = Exec("COMMIT");
  if (!s.ok()) {
    Exec("ROLLBACK").IgnoreError();
    last_sequence_ = first_sequence;
    for (v1::Event& e : m.events) e.clear_sequence();
    return s;
  }
  if (++commits_ % 256 == 0) PruneLocked().IgnoreError();  // retention is best effort
  return absl::OkStatus();
}

absl::Status Store::CommitLocked(Mutation& m) {
  for (const v1::Vm& vm : m.put) {
    Statement q(db_, "INSERT INTO vms (id, name, vm) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET vm = excluded.vm");
    q.Bind(1, vm.id()).Bind(2, vm.spec().name()).BindBlob(3, vm.SerializeAsString());
    if (q.Step() != SQLITE_DONE) return SqliteError(db_, absl::StrCat("writing vm ", vm.spec().name()));
  }
  for (const std::string& id : m.delete_ids) {
    Statement q(db_, "DELETE FROM vms WHERE id = ?");
    q.Bind(1, id);
    if (q.Step() != SQLITE_DONE) return SqliteError(db_, absl::StrCat("deleting vm ", id));
  }
  for (v1::Event& e : m.events) {
    e.set_sequence(++last_sequence_);
    Statement q(db_, "INSERT INTO events (seq, event) VALUES (?, ?)");
    q.Bind(1, static_cast<int64_t>(e.sequence())).BindBlob(2, e.SerializeAsString());
    if (q.Step() != SQLITE_DONE) return SqliteError(db_, "appending an event");
  }
  if (m.request) {
    // A new record, or the answer to a pending one of the same method and VM.
    Statement q(db_,
                "INSERT INTO requests (request_id, method, vm_name, response, created_unix, pending, fingerprint) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(request_id) DO UPDATE SET response = excluded.response, "
                "pending = excluded.pending WHERE requests.pending = 1 AND requests.method = excluded.method AND "
                "requests.vm_name = excluded.vm_name");
    q.Bind(1, m.request->request_id).Bind(2, m.request->method).Bind(3, m.request->vm_name);
    q.BindBlob(4, m.request->response).Bind(5, static_cast<int64_t>(time(nullptr)));
    q.Bind(6, int64_t{m.request->pending ? 1 : 0}).BindBlob(7, m.request->fingerprint);
    int rc = q.Step();
    if (rc == SQLITE_DONE && sqlite3_changes(db_) == 0) {
      // The conflict's WHERE did not match: an answered request.
      return absl::AlreadyExistsError(absl::StrCat("request_id ", rpc::QuotedInput(m.request->request_id), " is already recorded"));
    }
    if (rc == SQLITE_CONSTRAINT) {
      return absl::AlreadyExistsError(absl::StrCat("request_id ", rpc::QuotedInput(m.request->request_id), " is already recorded"));
    }
    if (rc != SQLITE_DONE) return SqliteError(db_, "recording the request");
  }
  return absl::OkStatus();
}

absl::Status Store::PruneLocked() {
  Statement events(db_, "DELETE FROM events WHERE seq <= ?");
  events.Bind(1, static_cast<int64_t>(last_sequence_) - static_cast<int64_t>(kRetainedEvents));
  Statement requests(db_, "DELETE FROM requests WHERE created_unix < ?");
  requests.Bind(1, static_cast<int64_t>(time(nullptr)) - kRequestRetentionSeconds);
  if (events.Step() != SQLITE_DONE || requests.Step() != SQLITE_DONE) return SqliteError(db_, "pruning");
  return absl::OkStatus();
}

}  // namespace vmd::daemon

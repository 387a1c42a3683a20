#include "store/sqlite_db.h"

#include <cerrno>
#include <mutex>

#include "irbis/errors.h"
#include "irbis/fault_hooks.h"

namespace irbis::store {

namespace {

// ---- a pass-through VFS that asks the before_io fault hook (fault_hooks.h) before each write,
// sync and truncate of the catalog and its WAL/journal: used only while a test installed the hook,
// so the I/O fault tests reach SQLite's own error paths (a full disk during a commit).
struct FaultFile {
  sqlite3_file base;
  const char* name;
  sqlite3_file* real;  // the default VFS's file, allocated right after this struct
};

sqlite3_vfs* real_vfs(sqlite3_vfs* v) { return static_cast<sqlite3_vfs*>(v->pAppData); }
sqlite3_file* real_file(sqlite3_file* f) { return reinterpret_cast<FaultFile*>(f)->real; }

int injected(IoOp op, sqlite3_file* f, int code) {
  const char* name = reinterpret_cast<FaultFile*>(f)->name;
  const int e = injected_io_error(op, name ? name : "(temporary file)");
  if (e == 0) return SQLITE_OK;
  return e == ENOSPC ? SQLITE_FULL : code;
}

int f_close(sqlite3_file* f) { return real_file(f)->pMethods->xClose(real_file(f)); }
int f_read(sqlite3_file* f, void* p, int n, sqlite3_int64 off) {
  return real_file(f)->pMethods->xRead(real_file(f), p, n, off);
}
int f_write(sqlite3_file* f, const void* p, int n, sqlite3_int64 off) {
  if (int rc = injected(IoOp::sqlite_write, f, SQLITE_IOERR_WRITE)) return rc;
  return real_file(f)->pMethods->xWrite(real_file(f), p, n, off);
}
int f_truncate(sqlite3_file* f, sqlite3_int64 size) {
  if (int rc = injected(IoOp::sqlite_truncate, f, SQLITE_IOERR_TRUNCATE)) return rc;
  return real_file(f)->pMethods->xTruncate(real_file(f), size);
}
int f_sync(sqlite3_file* f, int flags) {
  if (int rc = injected(IoOp::sqlite_sync, f, SQLITE_IOERR_FSYNC)) return rc;
  return real_file(f)->pMethods->xSync(real_file(f), flags);
}
int f_file_size(sqlite3_file* f, sqlite3_int64* size) { return real_file(f)->pMethods->xFileSize(real_file(f), size); }
int f_lock(sqlite3_file* f, int l) { return real_file(f)->pMethods->xLock(real_file(f), l); }
int f_unlock(sqlite3_file* f, int l) { return real_file(f)->pMethods->xUnlock(real_file(f), l); }
int f_check_reserved(sqlite3_file* f, int* out) {
  return real_file(f)->pMethods->xCheckReservedLock(real_file(f), out);
}
int f_file_control(sqlite3_file* f, int op, void* arg) {
  return real_file(f)->pMethods->xFileControl(real_file(f), op, arg);
}
int f_sector_size(sqlite3_file* f) { return real_file(f)->pMethods->xSectorSize(real_file(f)); }
int f_device(sqlite3_file* f) { return real_file(f)->pMethods->xDeviceCharacteristics(real_file(f)); }
int f_shm_map(sqlite3_file* f, int pg, int sz, int ext, void volatile** pp) {
  const auto* m = real_file(f)->pMethods;
  return m->iVersion >= 2 && m->xShmMap ? m->xShmMap(real_file(f), pg, sz, ext, pp) : SQLITE_IOERR_SHMMAP;
}
int f_shm_lock(sqlite3_file* f, int off, int n, int flags) {
  return real_file(f)->pMethods->xShmLock(real_file(f), off, n, flags);
}
void f_shm_barrier(sqlite3_file* f) { real_file(f)->pMethods->xShmBarrier(real_file(f)); }
int f_shm_unmap(sqlite3_file* f, int del) { return real_file(f)->pMethods->xShmUnmap(real_file(f), del); }
int f_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** pp) {
  const auto* m = real_file(f)->pMethods;
  if (m->iVersion >= 3 && m->xFetch) return m->xFetch(real_file(f), off, n, pp);
  *pp = nullptr;
  return SQLITE_OK;
}
int f_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) {
  const auto* m = real_file(f)->pMethods;
  return m->iVersion >= 3 && m->xUnfetch ? m->xUnfetch(real_file(f), off, p) : SQLITE_OK;
}

const sqlite3_io_methods kFaultMethods = {
    3,          f_close,      f_read,      f_write,        f_truncate, f_sync,        f_file_size,
    f_lock,     f_unlock,     f_check_reserved, f_file_control, f_sector_size, f_device, f_shm_map,
    f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch,       f_unfetch};

int v_open(sqlite3_vfs* v, const char* name, sqlite3_file* f, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(f);
  ff->name = name;
  ff->real = reinterpret_cast<sqlite3_file*>(ff + 1);
  ff->real->pMethods = nullptr;
  const int rc = real_vfs(v)->xOpen(real_vfs(v), name, ff->real, flags, out_flags);
  ff->base.pMethods = ff->real->pMethods ? &kFaultMethods : nullptr;
  return rc;
}
int v_delete(sqlite3_vfs* v, const char* name, int sync) { return real_vfs(v)->xDelete(real_vfs(v), name, sync); }
int v_access(sqlite3_vfs* v, const char* name, int flags, int* out) {
  return real_vfs(v)->xAccess(real_vfs(v), name, flags, out);
}
int v_full_pathname(sqlite3_vfs* v, const char* name, int n, char* out) {
  return real_vfs(v)->xFullPathname(real_vfs(v), name, n, out);
}
void* v_dl_open(sqlite3_vfs* v, const char* name) { return real_vfs(v)->xDlOpen(real_vfs(v), name); }
void v_dl_error(sqlite3_vfs* v, int n, char* out) { real_vfs(v)->xDlError(real_vfs(v), n, out); }
void (*v_dl_sym(sqlite3_vfs* v, void* h, const char* sym))(void) { return real_vfs(v)->xDlSym(real_vfs(v), h, sym); }
void v_dl_close(sqlite3_vfs* v, void* h) { real_vfs(v)->xDlClose(real_vfs(v), h); }
int v_randomness(sqlite3_vfs* v, int n, char* out) { return real_vfs(v)->xRandomness(real_vfs(v), n, out); }
int v_sleep(sqlite3_vfs* v, int us) { return real_vfs(v)->xSleep(real_vfs(v), us); }
int v_current_time(sqlite3_vfs* v, double* t) { return real_vfs(v)->xCurrentTime(real_vfs(v), t); }
int v_last_error(sqlite3_vfs* v, int n, char* out) { return real_vfs(v)->xGetLastError(real_vfs(v), n, out); }
int v_current_time64(sqlite3_vfs* v, sqlite3_int64* t) {
  return real_vfs(v)->xCurrentTimeInt64(real_vfs(v), t);
}

// Registered once, the first time a catalog is opened with a before_io hook installed.
const char* fault_vfs_name() {
  static std::once_flag once;
  static sqlite3_vfs vfs{};
  std::call_once(once, [] {
    sqlite3_vfs* real = sqlite3_vfs_find(nullptr);
    vfs.iVersion = 2;
    vfs.szOsFile = int(sizeof(FaultFile)) + real->szOsFile;
    vfs.mxPathname = real->mxPathname;
    vfs.zName = "irbis-faults";
    vfs.pAppData = real;
    vfs.xOpen = v_open;
    vfs.xDelete = v_delete;
    vfs.xAccess = v_access;
    vfs.xFullPathname = v_full_pathname;
    vfs.xDlOpen = v_dl_open;
    vfs.xDlError = v_dl_error;
    vfs.xDlSym = v_dl_sym;
    vfs.xDlClose = v_dl_close;
    vfs.xRandomness = v_randomness;
    vfs.xSleep = v_sleep;
    vfs.xCurrentTime = v_current_time;
    vfs.xGetLastError = v_last_error;
    vfs.xCurrentTimeInt64 = v_current_time64;
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs.zName;
}

[[noreturn]] void fail(sqlite3* db, std::string_view what) {
  const char* file = db ? sqlite3_db_filename(db, "main") : nullptr;
  throw StoreError(std::string(file ? file : "catalog") + ": " + std::string(what) + ": " +
                   (db ? sqlite3_errmsg(db) : "out of memory"));
}
}  // namespace

Statement::Statement(sqlite3* db, std::string_view sql) : db_(db) {
  if (sqlite3_prepare_v2(db, sql.data(), int(sql.size()), &stmt_, nullptr) != SQLITE_OK)
    fail(db, "preparing '" + std::string(sql.substr(0, 60)) + "'");
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int i, int64_t v) {
  if (sqlite3_bind_int64(stmt_, i, v) != SQLITE_OK) fail(db_, "bind");
  return *this;
}
Statement& Statement::bind(int i, double v) {
  if (sqlite3_bind_double(stmt_, i, v) != SQLITE_OK) fail(db_, "bind");
  return *this;
}
Statement& Statement::bind_text(int i, std::string_view v) {
  if (sqlite3_bind_text(stmt_, i, v.data(), int(v.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail(db_, "bind");
  return *this;
}
Statement& Statement::bind_blob(int i, std::span<const uint8_t> v) {
  // A zero-length blob must not bind as NULL: pass a non-null pointer.
  static const uint8_t empty = 0;
  if (sqlite3_bind_blob(stmt_, i, v.empty() ? &empty : v.data(), int(v.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_, "bind");
  return *this;
}
Statement& Statement::bind_null(int i) {
  if (sqlite3_bind_null(stmt_, i) != SQLITE_OK) fail(db_, "bind");
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, "step");
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
double Statement::column_double(int i) const { return sqlite3_column_double(stmt_, i); }
std::string Statement::column_text(int i) const {
  const auto* p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, i))) : std::string();
}
std::string Statement::column_blob(int i) const {
  const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, i));
  return p ? std::string(p, size_t(sqlite3_column_bytes(stmt_, i))) : std::string();
}
bool Statement::column_is_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

Database::Database(const std::string& file) : file_(file) {
  // NOFOLLOW: a catalog that is a symlink is refused, so no write lands outside the collection.
  // FULLMUTEX: `serve` shares one Collection (one connection) between its worker threads and the
  // warm-up thread, so SQLite must serialize calls on it (issue 16, D9).
  const char* vfs = fault_hooks().before_io ? fault_vfs_name() : nullptr;
  if (sqlite3_open_v2(file.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX |
                                        SQLITE_OPEN_NOFOLLOW,
                      vfs) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw StoreError(file + ": cannot open catalog: " + msg);
  }
  sqlite3_busy_timeout(db_, 10000);
}

Database::~Database() { sqlite3_close(db_); }

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, std::string(sql).c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    throw StoreError(file_ + ": " + msg);
  }
}

}  // namespace irbis::store

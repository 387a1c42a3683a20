// Test hooks for deterministic faults: points where the crash-resume and bad-input tests make the
// library fail on purpose. Production code only calls a hook when one is installed (none is by
// default); the CLI's main and the Python module install fault_hooks_from_environment() once at
// start-up, so the e2e scripts and the Dask tests drive them through environment variables
// (docs/storage.md) while no getenv sits in the code paths themselves.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace irbis {

// The kinds of file operation a before_io hook can fail.
enum class IoOp {
  write,            // pwrite/write of a feature file or thumbnail
  sync,             // fdatasync of a feature file, fsync of a directory
  truncate,         // cutting uncommitted feature rows when a writer starts
  sqlite_write,     // SQLite writing the catalog, its WAL or journal
  sqlite_sync,      // SQLite syncing them
  sqlite_truncate,  // SQLite truncating them (WAL reset, checkpoint)
};
const char* io_op_name(IoOp op);

struct FaultHooks {
  // Collection::commit(), after the feature bytes are durable and before the catalog transaction
  // makes them visible: `commit` counts this Collection object's commits from 1, `images` is the
  // committed image rows plus those about to be committed. A crash test aborts here.
  std::function<void(int64_t commit, int64_t images)> before_catalog_commit;
  // index_collection, right before a scanned file is read (a test deletes it: a file that vanishes
  // between the scan and the read).
  std::function<void(const std::string& path)> before_read;
  // Before each write, sync or truncate of a file irbis keeps: feature files, the catalog (through
  // SQLite's file layer: catalog.sqlite, -wal, -journal), directories synced for durability and
  // `serve`'s thumbnails. Returns 0 to let the operation run, or an errno (ENOSPC, EIO, ...) that
  // the operation then fails with, as if the kernel had returned it. The I/O fault-injection tests
  // count the calls with it, then fail each one in turn (tests/store/io_faults_test.cpp).
  std::function<int(IoOp op, const std::string& path)> before_io;
};

// Replaces the process's hooks. Call before any thread uses the library (hooks are read unlocked).
void install_fault_hooks(FaultHooks hooks);
const FaultHooks& fault_hooks();
// 0, or the errno the installed before_io hook makes this operation fail with. Call it right before
// the operation: `if (int e = injected_io_error(IoOp::write, file)) errno = e; else n = pwrite(...)`.
int injected_io_error(IoOp op, const std::string& path);

// The hooks the tests ask for through the environment (empty when none is set):
//   IRBIS_FAULT_ABORT_AT_COMMIT=N     abort() in a collection's Nth commit (a back-fill stages
//                                     feature rows but no images, so an image count cannot place it)
//   IRBIS_FAULT_ABORT_AT_ROWS=N       abort() in the first commit reaching N images
//   IRBIS_FAULT_ONCE_MARKER=FILE      with ABORT_AT_ROWS: only the process that creates FILE first
//                                     aborts, so a retried run (a restarted Dask worker) completes
//   IRBIS_FAULT_PAUSE_AT_COMMIT=N     with IRBIS_FAULT_PAUSE_FILE=FILE: in a collection's Nth commit,
//                                     create FILE and wait (up to 60 s) until it is removed, so a
//                                     test can signal a run caught in the middle
//   IRBIS_FAULT_VANISH_BEFORE_READ=NAME  delete the scanned file whose path ends in /NAME just
//                                     before index_collection reads it
//   IRBIS_FAULT_IO_ERROR=OP:ERRNO:TEXT  every OP (io_op_name: write, sync, ...) of a file whose path
//                                     contains TEXT fails with ERRNO (ENOSPC, EIO or EROFS), e.g.
//                                     sync:ENOSPC:/thumbs/ for `serve`'s thumbnail cache
FaultHooks fault_hooks_from_environment();

}  // namespace irbis

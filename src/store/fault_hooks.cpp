#include "irbis/fault_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>

namespace irbis {

namespace {
FaultHooks& hooks() {
  static FaultHooks h;
  return h;
}
}  // namespace

void install_fault_hooks(FaultHooks h) { hooks() = std::move(h); }
const FaultHooks& fault_hooks() { return hooks(); }

int injected_io_error(IoOp op, const std::string& path) {
  const auto& hook = hooks().before_io;
  return hook ? hook(op, path) : 0;
}

const char* io_op_name(IoOp op) {
  switch (op) {
    case IoOp::write: return "write";
    case IoOp::sync: return "sync";
    case IoOp::truncate: return "truncate";
    case IoOp::sqlite_write: return "sqlite_write";
    case IoOp::sqlite_sync: return "sqlite_sync";
    case IoOp::sqlite_truncate: return "sqlite_truncate";
  }
  return "?";
}

FaultHooks fault_hooks_from_environment() {
  FaultHooks h;
  const char* at_commit = std::getenv("IRBIS_FAULT_ABORT_AT_COMMIT");
  const char* at_rows = std::getenv("IRBIS_FAULT_ABORT_AT_ROWS");
  const int64_t commit_n = at_commit ? std::atoll(at_commit) : 0;
  const int64_t rows_n = at_rows ? std::atoll(at_rows) : 0;
  if (at_commit || at_rows) {
    const char* marker_env = std::getenv("IRBIS_FAULT_ONCE_MARKER");
    const std::string marker = marker_env ? marker_env : "";
    const bool has_marker = marker_env != nullptr;
    h.before_catalog_commit = [at_commit = at_commit != nullptr, commit_n, rows_n, marker, has_marker](
                                  int64_t commit, int64_t images) {
      if (at_commit && commit == commit_n) std::abort();
      // The marker is created exclusively: only the first process to get here dies.
      if (rows_n > 0 && images >= rows_n &&
          (!has_marker || ::open(marker.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644) >= 0))
        std::abort();
    };
  }
  if (const char* name = std::getenv("IRBIS_FAULT_VANISH_BEFORE_READ"); name && *name) {
    h.before_read = [suffix = std::string("/") + name](const std::string& path) {
      if (path.size() >= suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0)
        ::unlink(path.c_str());
    };
  }
  return h;
}

}  // namespace irbis

#include "irbis/fault_hooks.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
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
  const char* pause_at = std::getenv("IRBIS_FAULT_PAUSE_AT_COMMIT");
  const char* pause_file = std::getenv("IRBIS_FAULT_PAUSE_FILE");
  if (pause_at && pause_file && *pause_file) {
    h.before_catalog_commit = [abort_hook = std::move(h.before_catalog_commit), n = std::atoll(pause_at),
                               file = std::string(pause_file)](int64_t commit, int64_t images) {
      if (abort_hook) abort_hook(commit, images);
      if (commit != n) return;
      const int fd = ::open(file.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd >= 0) ::close(fd);
      for (int i = 0; i < 6000 && ::access(file.c_str(), F_OK) == 0; ++i) ::usleep(10000);
    };
  }
  if (const char* spec = std::getenv("IRBIS_FAULT_IO_ERROR"); spec && *spec) {
    // OP:ERRNO:TEXT, e.g. sync:ENOSPC:/thumbs/ (an unknown OP or ERRNO installs nothing).
    const std::string s = spec;
    const size_t a = s.find(':'), b = a == std::string::npos ? a : s.find(':', a + 1);
    if (b != std::string::npos) {
      const std::string op_name = s.substr(0, a), err_name = s.substr(a + 1, b - a - 1), text = s.substr(b + 1);
      const int err = err_name == "ENOSPC" ? ENOSPC : err_name == "EIO" ? EIO : err_name == "EROFS" ? EROFS : 0;
      for (IoOp op : {IoOp::write, IoOp::sync, IoOp::truncate, IoOp::sqlite_write, IoOp::sqlite_sync, IoOp::sqlite_truncate})
        if (err && op_name == io_op_name(op))
          h.before_io = [op, err, text](IoOp o, const std::string& path) {
            return o == op && path.find(text) != std::string::npos ? err : 0;
          };
    }
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

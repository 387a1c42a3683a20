#include "irbis/replace_file.h"

#include <atomic>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <unistd.h>

#include "irbis/errors.h"
#include "irbis/fault_hooks.h"

namespace irbis {

namespace fs = std::filesystem;

namespace {
constexpr size_t kBufferBytes = 1 << 20;
std::atomic<uint64_t> temp_counter{0};
}  // namespace

FileReplacer::FileReplacer(fs::path file) : file_(std::move(file)) {
  tmp_ = file_.string() + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(temp_counter++);
  std::error_code ignored;
  fs::remove(tmp_, ignored);  // a crashed writer's, with the same pid
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    const int err = errno;
    throw IoError(file_.string() + ": cannot write: cannot create " + tmp_.filename().string() + ": " +
                  std::strerror(err));
  }
  buf_.reserve(kBufferBytes);
}

FileReplacer::~FileReplacer() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) {
    std::error_code ignored;
    fs::remove(tmp_, ignored);
  }
}

void FileReplacer::fail(const std::string& what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ignored;
  fs::remove(tmp_, ignored);
  tmp_.clear();
  throw IoError(file_.string() + ": cannot write: " + what + ": " + std::strerror(err));
}

void FileReplacer::flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    const int injected = injected_io_error(IoOp::write, tmp_.string());
    const ssize_t n = injected ? (errno = injected, -1) : ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("write", errno);
    }
    done += size_t(n);
  }
  buf_.clear();
}

void FileReplacer::write(std::span<const uint8_t> bytes) {
  if (fd_ < 0) throw IoError(file_.string() + ": cannot write: the file was already closed");
  while (!bytes.empty()) {
    const size_t n = std::min(bytes.size(), kBufferBytes - buf_.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.begin() + long(n));
    bytes = bytes.subspan(n);
    if (buf_.size() == kBufferBytes) flush();
  }
}

void FileReplacer::write(std::string_view text) {
  write(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

void FileReplacer::finish(bool durable) {
  if (finished_) return;
  if (fd_ < 0) throw IoError(file_.string() + ": cannot write: the file was already closed");
  flush();
  if (durable) {
    const int injected = injected_io_error(IoOp::sync, tmp_.string());
    if (injected ? (errno = injected, -1) : ::fdatasync(fd_)) fail("fdatasync", errno);
  }
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("close", errno);
  finished_ = true;
}

void FileReplacer::commit(bool durable) {
  finish(durable);
  if (tmp_.empty()) throw IoError(file_.string() + ": cannot write: already committed");
  if (::rename(tmp_.c_str(), file_.c_str()) != 0) fail("rename", errno);
  tmp_.clear();
  if (durable) {
    const fs::path dir = file_.parent_path().empty() ? fs::path(".") : file_.parent_path();
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) throw IoError(dir.string() + ": cannot open directory to sync it: " + std::strerror(errno));
    const int injected = injected_io_error(IoOp::sync, dir.string());
    const int sync_rc = injected ? (errno = injected, -1) : ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    if (sync_rc != 0) throw IoError(file_.string() + ": cannot write: fsync of " + dir.string() + ": " + std::strerror(err));
  }
}

void replace_file(const fs::path& file, std::string_view content, bool durable) {
  FileReplacer w(file);
  w.write(content);
  w.commit(durable);
}

}  // namespace irbis

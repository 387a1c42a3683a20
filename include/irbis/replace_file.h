// Writing a whole file that readers may open at any moment (the vector index under
// <collection>/index/, the HTML report's files): the bytes go to a temporary file beside it, which
// is renamed over the file only when every write succeeded, so a reader sees the old file or the
// new one, never a part. Every write (and sync) goes through the before_io test hook
// (fault_hooks.h). On any failure the temporary file is removed and an IoError names the file
// and the reason ("<file>: cannot write: No space left on device"); the old file stays as it was.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace irbis {

class FileReplacer {
 public:
  explicit FileReplacer(std::filesystem::path file);
  FileReplacer(const FileReplacer&) = delete;
  FileReplacer& operator=(const FileReplacer&) = delete;
  ~FileReplacer();  // removes the temporary file unless commit() succeeded
  void write(std::span<const uint8_t> bytes);
  void write(std::string_view text);
  // Writes what is buffered and closes the temporary file (fdatasync'ed first with `durable`):
  // after it, every failure but the rename's has happened. Several files that belong together
  // are all finished before the first is committed.
  void finish(bool durable = false);
  // finish() if not done, then renames over the file (and fsyncs its directory with `durable`).
  void commit(bool durable = false);
  const std::filesystem::path& file() const { return file_; }
  const std::filesystem::path& temporary() const { return tmp_; }

 private:
  void flush();
  [[noreturn]] void fail(const std::string& what, int err);
  std::filesystem::path file_, tmp_;
  int fd_ = -1;
  bool finished_ = false;
  std::vector<uint8_t> buf_;
};

// The whole file at once.
void replace_file(const std::filesystem::path& file, std::string_view content, bool durable = false);

}  // namespace irbis

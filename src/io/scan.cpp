#include "irbis/scan.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {

namespace {

// strerror text with a lower-case first letter, e.g. "permission denied".
std::string errno_reason(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = char(s[0] - 'A' + 'a');
  return s;
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t(st.st_mtim.tv_sec) * 1000000000 + int64_t(st.st_mtim.tv_nsec);
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Directories below a root that are never entered.
bool skipped_dir_name(std::string_view name) {
  return name.starts_with('.') || ends_with(name, ".irbis");
}

std::string join(const std::string& dir, const std::string& name) {
  if (!dir.empty() && dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

// Strips trailing slashes but keeps "/" itself.
std::string normalize_root(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}

class Scanner {
 public:
  void add_root(const std::string& raw_root) {
    const std::string root = normalize_root(raw_root);
    if (root.empty()) {
      problems_.push_back({raw_root, "empty path"});
      return;
    }
    struct stat st;
    if (::stat(root.c_str(), &st) != 0) {
      const int err = errno;
      struct stat lst;
      if (err == ENOENT && ::lstat(root.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode)) {
        problems_.push_back({root, "broken symbolic link"});
      } else {
        problems_.push_back({root, errno_reason(err)});
      }
      return;
    }
    if (S_ISREG(st.st_mode)) {
      files_.push_back({root, int64_t(st.st_size), mtime_ns(st)});
    } else if (S_ISDIR(st.st_mode)) {
      walk(root, st);
    } else {
      problems_.push_back({root, "not a regular file or directory"});
    }
  }

  ScanResult finish() {
    ScanResult r;
    const auto by_path = [](const auto& a, const auto& b) { return a.path < b.path; };
    const auto same_path = [](const auto& a, const auto& b) { return a.path == b.path; };
    std::sort(files_.begin(), files_.end(), by_path);
    files_.erase(std::unique(files_.begin(), files_.end(), same_path), files_.end());
    std::stable_sort(problems_.begin(), problems_.end(), by_path);
    r.files = std::move(files_);
    r.problems = std::move(problems_);
    return r;
  }

 private:
  // Depth-first walk with an explicit stack (no recursion limit on deep trees).
  void walk(const std::string& root, const struct stat& root_st) {
    std::vector<std::string> stack;
    if (visited_.insert({root_st.st_dev, root_st.st_ino}).second) stack.push_back(root);
    while (!stack.empty()) {
      const std::string dir = std::move(stack.back());
      stack.pop_back();
      std::vector<std::string> subdirs;
      list_dir(dir, subdirs);
      // Names were sorted, so push in reverse to visit them in byte order.
      for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
    }
  }

  void list_dir(const std::string& dir, std::vector<std::string>& subdirs) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) {
      const int err = errno;
      if (err != ENOENT) problems_.push_back({dir, errno_reason(err)});  // ENOENT: vanished
      return;
    }
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      const dirent* e = ::readdir(d);
      if (!e) {
        if (errno != 0) problems_.push_back({dir, errno_reason(errno)});
        break;
      }
      const std::string_view name = e->d_name;
      if (name == "." || name == "..") continue;
      names.emplace_back(name);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());

    for (const std::string& name : names) {
      std::string path = join(dir, name);
      struct stat st;
      if (::lstat(path.c_str(), &st) != 0) continue;  // vanished since readdir
      if (S_ISLNK(st.st_mode)) {
        if (::stat(path.c_str(), &st) != 0) {
          const int err = errno;
          problems_.push_back({path, err == ENOENT ? "broken symbolic link" : errno_reason(err)});
          continue;
        }
      }
      if (S_ISREG(st.st_mode)) {
        files_.push_back({std::move(path), int64_t(st.st_size), mtime_ns(st)});
      } else if (S_ISDIR(st.st_mode)) {
        if (skipped_dir_name(name)) continue;
        if (!visited_.insert({st.st_dev, st.st_ino}).second) continue;  // loop or seen already
        subdirs.push_back(std::move(path));
      }
      // Fifos, sockets and devices are not images: skipped.
    }
  }

  std::vector<ScanEntry> files_;
  std::vector<ScanProblem> problems_;
  std::set<std::pair<dev_t, ino_t>> visited_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

ScanResult scan(const std::vector<std::string>& roots) {
  Scanner s;
  for (const std::string& root : roots) s.add_root(root);
  return s.finish();
}

std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes) {
  const auto fail = [&](const std::string& reason) -> IoError {
    return IoError(display_path(path) + ": " + reason);
  };
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) throw fail(errno_reason(errno));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw fail(errno_reason(errno));
  if (S_ISDIR(st.st_mode)) throw fail(errno_reason(EISDIR));
  if (!S_ISREG(st.st_mode)) throw fail("not a regular file");
  const uint64_t size = uint64_t(st.st_size);
  if (size > max_bytes) {
    throw fail("file is " + std::to_string(size) + " bytes, over the limit of " +
               std::to_string(max_bytes));
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::vector<uint8_t> buf(size);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd.get(), buf.data() + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw fail(errno_reason(errno));
    }
    if (n == 0) break;  // the file shrank while we read it: keep what is there
    got += size_t(n);
  }
  buf.resize(got);
  return buf;
}

}  // namespace irbis

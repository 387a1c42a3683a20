// Scanning and file reading tests; directory trees are built here, at test time.
#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "irbis/errors.h"
#include "irbis/scan.h"
#include "irbis/text.h"
#include "test_util.h"

namespace irbis {
namespace {

using test::TempDir;

// Creates a file with `n` bytes through POSIX calls, so any byte sequence works as a name.
void make_file(const std::string& path, size_t n = 3) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << std::strerror(errno);
  const std::string data(n, 'x');
  ASSERT_EQ(::write(fd, data.data(), n), ssize_t(n));
  ::close(fd);
}

void make_dir(const std::string& path) { ASSERT_EQ(::mkdir(path.c_str(), 0755), 0) << path; }

std::vector<std::string> paths(const ScanResult& r) {
  std::vector<std::string> out;
  for (const auto& f : r.files) out.push_back(f.path);
  return out;
}

TEST(Scan, NestedDirectoriesSortedWithSizes) {
  TempDir tmp("scan-nested");
  const std::string root = tmp.path().string();
  make_dir(root + "/b");
  make_dir(root + "/b/c");
  make_dir(root + "/a");
  make_file(root + "/b/c/deep.jpg", 10);
  make_file(root + "/a/one.png", 5);
  make_file(root + "/top.webp", 7);
  make_file(root + "/no_extension", 1);
  make_file(root + "/.hidden_file.jpg", 1);  // hidden files are listed (only hidden dirs skipped)
  make_dir(root + "/.git");
  make_file(root + "/.git/HEAD");
  make_dir(root + "/pics.irbis");
  make_file(root + "/pics.irbis/catalog.sqlite");

  const ScanResult r = scan({root + "/"});  // a trailing slash is fine
  EXPECT_TRUE(r.problems.empty());
  const std::vector<std::string> want = {root + "/.hidden_file.jpg", root + "/a/one.png", root + "/b/c/deep.jpg",
                                         root + "/no_extension", root + "/top.webp"};
  EXPECT_EQ(paths(r), want);
  ASSERT_EQ(r.files.size(), want.size());
  EXPECT_EQ(r.files[1].size, 5);
  EXPECT_EQ(r.files[2].size, 10);
  struct stat st;
  ASSERT_EQ(::stat(want[4].c_str(), &st), 0);
  EXPECT_EQ(r.files[4].mtime_ns, int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec);
  EXPECT_GT(r.files[4].mtime_ns, 0);
}

TEST(Scan, SymlinkLoopTerminatesAndListsEachFileOnce) {
  TempDir tmp("scan-loop");
  const std::string root = tmp.path().string();
  make_dir(root + "/sub");
  make_file(root + "/sub/photo.jpg");
  make_file(root + "/top.jpg");
  ASSERT_EQ(::symlink("..", (root + "/sub/up").c_str()), 0);     // to its parent: a loop
  ASSERT_EQ(::symlink(".", (root + "/sub/self").c_str()), 0);    // to itself
  ASSERT_EQ(::symlink(root.c_str(), (root + "/sub/abs").c_str()), 0);
  const ScanResult r = scan({root});
  EXPECT_EQ(paths(r), (std::vector<std::string>{root + "/sub/photo.jpg", root + "/top.jpg"}));
  EXPECT_TRUE(r.problems.empty());
}

TEST(Scan, FollowsSymlinksToFilesAndDirectories) {
  TempDir tmp("scan-links");
  const std::string root = tmp.path().string();
  make_dir(root + "/elsewhere");
  make_file(root + "/elsewhere/x.jpg");
  make_dir(root + "/tree");
  ASSERT_EQ(::symlink((root + "/elsewhere").c_str(), (root + "/tree/linked_dir").c_str()), 0);
  ASSERT_EQ(::symlink((root + "/elsewhere/x.jpg").c_str(), (root + "/tree/linked_file.jpg").c_str()), 0);
  ASSERT_EQ(::symlink("nowhere", (root + "/tree/broken.jpg").c_str()), 0);
  const ScanResult r = scan({root + "/tree"});
  EXPECT_EQ(paths(r), (std::vector<std::string>{root + "/tree/linked_dir/x.jpg", root + "/tree/linked_file.jpg"}));
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, root + "/tree/broken.jpg");
  EXPECT_EQ(r.problems[0].reason, "broken symbolic link");
}

TEST(Scan, RawByteNamesAreKeptExactly) {
  TempDir tmp("scan-names");
  const std::string root = tmp.path().string();
  const std::string latin1 = root + "/caf\xE9.jpg";
  const std::string quoted = root + "/my \"best\" 'photo' (1).jpg";
  const std::string newline = root + "/line\nbreak.png";
  make_file(latin1);
  make_file(quoted);
  make_file(newline);
  const ScanResult r = scan({root});
  std::vector<std::string> want = {latin1, newline, quoted};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(paths(r), want);
  EXPECT_EQ(display_path(latin1), root + "/caf\xEF\xBF\xBD.jpg");
}

TEST(Scan, SingleFileRootsAndMissingRoots) {
  TempDir tmp("scan-roots");
  const std::string root = tmp.path().string();
  make_file(root + "/only.jpg", 4);
  const ScanResult r = scan({root + "/only.jpg", root + "/missing", root + "/only.jpg", root});
  EXPECT_EQ(paths(r), (std::vector<std::string>{root + "/only.jpg"}));  // listed once
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].path, root + "/missing");
  EXPECT_EQ(r.problems[0].reason, "no such file or directory");
}

// Builds root/{ok/a.jpg, locked/b.jpg} with `locked` unreadable by others, scans as `uid` (forked
// child when we are root), and checks that the scan lists a.jpg and reports locked.
TEST(Scan, UnreadableDirectoryIsAProblem) {
  // Under /tmp (world-traversable) so the unprivileged child can reach it.
  char tmpl[] = "/tmp/irbis-scan-perm-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string root = tmpl;
  ASSERT_EQ(::chmod(root.c_str(), 0755), 0);
  make_dir(root + "/ok");
  make_file(root + "/ok/a.jpg");
  make_dir(root + "/locked");
  make_file(root + "/locked/b.jpg");
  ASSERT_EQ(::chmod((root + "/locked").c_str(), 0), 0);

  const auto check = [&]() -> std::string {  // "" when all is as expected
    const ScanResult r = scan({root});
    if (r.files.size() != 1 || r.files[0].path != root + "/ok/a.jpg") return "files not as expected";
    if (r.problems.size() != 1) return "expected one problem, got " + std::to_string(r.problems.size());
    if (r.problems[0].path != root + "/locked") return "problem path " + r.problems[0].path;
    if (r.problems[0].reason != "permission denied") return "problem reason " + r.problems[0].reason;
    return "";
  };

  std::string failure;
  bool skipped = false;
  if (::geteuid() != 0) {
    failure = check();
  } else {
    // Root reads everything: check as nobody (65534) in a child process.
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::close(fds[0]);
      std::string msg;
      int code = 0;
      if (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0) {
        msg = "cannot drop privileges";
        code = 2;
      } else {
        msg = check();
        code = msg.empty() ? 0 : 1;
      }
      if (!msg.empty() && ::write(fds[1], msg.data(), msg.size()) < 0) code = 3;
      ::_exit(code);
    }
    ::close(fds[1]);
    char buf[512];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 2) skipped = true;
    else if (WEXITSTATUS(status) != 0) failure = n > 0 ? std::string(buf, size_t(n)) : "child failed";
  }
  ::chmod((root + "/locked").c_str(), 0755);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  if (skipped) GTEST_SKIP() << "running as root and cannot switch to uid 65534 to test permissions";
  EXPECT_EQ(failure, "");
}

TEST(Scan, ReadFileBytes) {
  TempDir tmp("scan-read");
  const std::string root = tmp.path().string();
  make_file(root + "/ten", 10);
  make_file(root + "/empty", 0);
  EXPECT_EQ(read_file_bytes(root + "/ten", 10).size(), 10u);
  EXPECT_TRUE(read_file_bytes(root + "/empty", 0).empty());
  try {
    read_file_bytes(root + "/ten", 5);
    ADD_FAILURE() << "no IoError for an oversized file";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), root + "/ten: file is 10 bytes, over the limit of 5");
  }
  try {
    read_file_bytes(root + "/caf\xE9", 5);
    ADD_FAILURE() << "no IoError for a missing file";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), root + "/caf\xEF\xBF\xBD: no such file or directory");
  }
  EXPECT_THROW(read_file_bytes(root, 100), IoError);  // a directory
}

}  // namespace
}  // namespace irbis

// Finding the files to index, and reading them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace irbis {

struct ScanEntry {
  std::string path;  // bytes as the OS gave them (may be non-UTF-8); root + "/" + names
  int64_t size = 0;
  int64_t mtime_ns = 0;
};

struct ScanProblem {
  std::string path;    // raw bytes, like ScanEntry::path
  std::string reason;  // e.g. "permission denied", "no such file or directory", "broken symbolic link"
};

struct ScanResult {
  std::vector<ScanEntry> files;      // sorted by path bytes, each path once
  std::vector<ScanProblem> problems; // sorted by path bytes
};

// Recursively lists the regular files under each root (any name or extension: the format is
// sniffed later). A root may also be a single file. Symbolic links to files and directories are
// followed; a directory (identified by st_dev, st_ino) is entered at most once, so link loops end
// and a directory reachable by several paths is listed under the first one met (names are walked
// in byte order, so this is deterministic). Skipped: directories whose name starts with '.'
// (".git", ...) or ends in ".irbis" (collections) below a root, and non-regular files (fifos,
// sockets, devices). Unreadable directories, missing roots and broken links become problems;
// entries that vanish during the scan are skipped silently. Never throws for file system errors.
ScanResult scan(const std::vector<std::string>& roots);

// Reads a whole file. Throws IoError("<path>: <reason>") when it cannot be opened or read, or
// IoError("<path>: file is N bytes, over the limit of M") when it is larger than max_bytes.
// An empty file gives an empty vector (decode_image then reports "empty file").
// Paths in messages go through display_path.
std::vector<uint8_t> read_file_bytes(const std::string& path, uint64_t max_bytes);

}  // namespace irbis

// Helpers shared by the fuzz targets.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <string>
#include <unistd.h>

namespace irbis::fuzz {

// A scratch folder of this process (on tmpfs when there is one), for loaders that take paths.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::filesystem::path base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : (tmp ? tmp : "/tmp");
    std::filesystem::path d = base / ("irbis-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& p, std::span<const uint8_t> b) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

// A finding that is not a crash by itself (a broken invariant): abort so libFuzzer records it.
[[noreturn]] inline void invariant_failed(const char* what) {
  fprintf(stderr, "irbis fuzz invariant failed: %s\n", what);
  std::abort();
}

}  // namespace irbis::fuzz

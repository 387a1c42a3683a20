// Minimal NumPy .npy (format 1.0) writer for float32 matrices, streamed row by row.
#pragma once
#include <cstdint>
#include <fstream>
#include <span>
#include <string>

namespace irbis {

class NpyWriter {
 public:
  // Opens `path` for an (rows x cols) little-endian float32 C-order array.
  NpyWriter(const std::string& path, int64_t rows, int64_t cols);
  void write_row(std::span<const float> row);
  // Checks that exactly `rows` rows were written and flushes; throws IoError otherwise.
  void close();

 private:
  std::string path_;
  std::ofstream out_;
  int64_t rows_, cols_, written_ = 0;
};

}  // namespace irbis

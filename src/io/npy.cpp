#include "irbis/npy.h"

#include "irbis/errors.h"

namespace irbis {

NpyWriter::NpyWriter(const std::string& path, int64_t rows, int64_t cols)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc), rows_(rows), cols_(cols) {
  if (!out_) throw IoError(path + ": cannot open for writing");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  // Magic (6) + version (2) + header length (2) + header, padded with spaces and a final
  // newline to a multiple of 64 bytes so the data is aligned for memory mapping.
  const size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  const uint16_t len = uint16_t(header.size());
  out_.write("\x93NUMPY\x01\x00", 8);
  const char len_le[2] = {char(len & 0xff), char(len >> 8)};
  out_.write(len_le, 2);
  out_.write(header.data(), std::streamsize(header.size()));
}

void NpyWriter::write_row(std::span<const float> row) {
  if (int64_t(row.size()) != cols_ || written_ >= rows_)
    throw IoError(path_ + ": npy row of wrong size or too many rows");
  out_.write(reinterpret_cast<const char*>(row.data()), std::streamsize(row.size_bytes()));
  ++written_;
}

void NpyWriter::close() {
  out_.flush();
  if (written_ != rows_ || !out_) throw IoError(path_ + ": write failed (" + std::to_string(written_) + " of " +
                                                std::to_string(rows_) + " rows)");
  out_.close();
}

}  // namespace irbis

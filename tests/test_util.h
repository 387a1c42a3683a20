// Helpers shared by tests: temporary directories and generated images.
#pragma once
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>
#include <opencv2/core.hpp>

#include "irbis/image.h"

namespace irbis::test {

// A fresh directory under the build tree, removed when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string& tag);
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A deterministic, photo-like RGB image (smooth gradients plus shapes), different for each seed.
cv::Mat synthetic_photo(int width, int height, int seed);

std::vector<uint8_t> read_file(const std::filesystem::path& p);
void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes);
// Encodes an RGB image with OpenCV to the format of the extension (".jpg", ".png", ...).
std::vector<uint8_t> encode(const cv::Mat& rgb, const std::string& ext, int jpeg_quality = 92);

// The DecodeError message of decoding `bytes`, or "" when they decode.
std::string decode_error(std::span<const uint8_t> bytes, const DecodeOptions& opts = {});
std::string decode_error(const std::vector<uint8_t>& bytes, const DecodeOptions& opts = {});
// Mean absolute difference per channel; a test failure (and 1e9) when size or type differ.
double mean_abs_diff(const cv::Mat& a, const cv::Mat& b);
// Threads of this process now (OpenMP's pool threads stay alive after their team's region ends).
int process_threads();

}  // namespace irbis::test

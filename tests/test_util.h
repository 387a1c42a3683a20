// Helpers shared by tests: temporary directories and generated images.
#pragma once
#include <filesystem>
#include <string>
#include <vector>
#include <opencv2/core.hpp>

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

}  // namespace irbis::test

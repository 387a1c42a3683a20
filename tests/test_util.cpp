#include "test_util.h"

#include <fstream>
#include <random>
#include <unistd.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <gtest/gtest.h>

#include "irbis/errors.h"

namespace irbis::test {

TempDir::TempDir(const std::string& tag) {
  static int counter = 0;
  path_ = std::filesystem::path(IRBIS_BINARY_DIR) / "test-tmp" /
          (tag + "-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(path_);
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

cv::Mat synthetic_photo(int width, int height, int seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  cv::Mat img(height, width, CV_8UC3);
  const double a = u(rng) * 6, b = u(rng) * 6, c = u(rng) * 6;
  for (int y = 0; y < height; ++y) {
    auto* p = img.ptr<cv::Vec3b>(y);
    for (int x = 0; x < width; ++x) {
      const double fx = double(x) / width, fy = double(y) / height;
      p[x] = cv::Vec3b(cv::saturate_cast<uint8_t>(127 + 120 * std::sin(a * fx + b * fy)),
                       cv::saturate_cast<uint8_t>(127 + 120 * std::cos(b * fx * fy * 3 + c)),
                       cv::saturate_cast<uint8_t>(127 + 120 * std::sin(c * fy + a)));
    }
  }
  const int shapes = 3 + seed % 5;
  for (int i = 0; i < shapes; ++i) {
    cv::Point center(int(u(rng) * width), int(u(rng) * height));
    int radius = std::max(1, int((0.05 + 0.2 * u(rng)) * std::min(width, height)));
    cv::Scalar color(u(rng) * 255, u(rng) * 255, u(rng) * 255);
    if (i % 2) cv::circle(img, center, radius, color, cv::FILLED, cv::LINE_AA);
    else cv::rectangle(img, center, center + cv::Point(radius, radius / 2 + 1), color, cv::FILLED);
  }
  return img;
}

std::vector<uint8_t> read_file(const std::filesystem::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void write_file(const std::filesystem::path& p, const std::vector<uint8_t>& bytes) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<uint8_t> encode(const cv::Mat& rgb, const std::string& ext, int jpeg_quality) {
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  std::vector<uint8_t> out;
  cv::imencode(ext, bgr, out, {cv::IMWRITE_JPEG_QUALITY, jpeg_quality});
  return out;
}

std::string decode_error(std::span<const uint8_t> bytes, const DecodeOptions& opts) {
  try {
    decode_image(bytes, opts);
  } catch (const DecodeError& e) {
    return e.what();
  }
  return "";
}

std::string decode_error(const std::vector<uint8_t>& bytes, const DecodeOptions& opts) {
  return decode_error(std::span<const uint8_t>(bytes.data(), bytes.size()), opts);
}

double mean_abs_diff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.type(), b.type());
  if (a.size() != b.size() || a.type() != b.type()) return 1e9;
  const cv::Scalar m = cv::mean(cv::abs(a - b));
  double s = 0;
  for (int c = 0; c < a.channels(); ++c) s += m[c];
  return s / a.channels();
}

int process_threads() {
  int n = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++n;
  return n;
}

}  // namespace irbis::test

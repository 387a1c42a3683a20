#include <numeric>

#include <gtest/gtest.h>

#include "hash_test_util.h"

namespace irbis::test {
namespace {

TEST(ColorStats, HistogramSumsToOne) {
  for (int s = 0; s < 4; ++s) {
    const auto f = color_stats(synthetic_photo(123, 77, s));
    const double sum = std::accumulate(f.begin(), f.begin() + kColorHistBins, 0.0);
    EXPECT_NEAR(sum, 1.0, 1e-5);
    for (float v : f) {
      EXPECT_GE(v, 0.f);
      EXPECT_LE(v, 1.f);
    }
  }
}

TEST(ColorStats, PureRed) {
  const auto f = color_stats(cv::Mat(10, 10, CV_8UC3, cv::Scalar(255, 0, 0)));
  EXPECT_FLOAT_EQ(f[3 * 16], 1.f);  // bin = (R>>6)*16 + (G>>6)*4 + (B>>6)
  EXPECT_FLOAT_EQ(f[kColorHistBins + 0], 1.f);  // mean R
  EXPECT_FLOAT_EQ(f[kColorHistBins + 1], 0.f);
  EXPECT_FLOAT_EQ(f[kColorHistBins + 2], 0.f);
  for (int c = 0; c < 3; ++c) EXPECT_FLOAT_EQ(f[kColorHistBins + 3 + c], 0.f);  // std
}

TEST(ColorStats, HalfBlackHalfWhite) {
  const auto f = color_stats(two_halves(20, 10, 10, 0, 255));
  EXPECT_FLOAT_EQ(f[0], 0.5f);
  EXPECT_FLOAT_EQ(f[63], 0.5f);
  for (int c = 0; c < 3; ++c) {
    EXPECT_FLOAT_EQ(f[kColorHistBins + c], 0.5f);
    EXPECT_FLOAT_EQ(f[kColorHistBins + 3 + c], 0.5f);
  }
}

TEST(ColorStats, OnePixel) {
  const auto f = color_stats(cv::Mat(1, 1, CV_8UC3, cv::Scalar(64, 128, 192)));
  EXPECT_FLOAT_EQ(f[1 * 16 + 2 * 4 + 3], 1.f);
  EXPECT_NEAR(f[kColorHistBins + 1], 128 / 255.f, 1e-6);
}

}  // namespace
}  // namespace irbis::test

namespace irbis::test {
namespace {

// color_stats counts with vectorised loops and interleaved histograms; the values must be those of
// the definition's per-pixel loop (exact integer counts and sums, then the same arithmetic).
std::array<float, kColorStatsDim> per_pixel_color_stats(const cv::Mat& img) {
  uint64_t hist[kColorHistBins] = {}, sum[3] = {}, sq[3] = {};
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) {
      const uint8_t* p = img.ptr<uint8_t>(y) + x * img.channels();
      const unsigned c[3] = {p[0], p[img.channels() == 3 ? 1 : 0], p[img.channels() == 3 ? 2 : 0]};
      ++hist[(c[0] >> 6) * 16 + (c[1] >> 6) * 4 + (c[2] >> 6)];
      for (int k = 0; k < 3; ++k) sum[k] += c[k], sq[k] += c[k] * c[k];
    }
  const double n = double(img.total());
  std::array<float, kColorStatsDim> out{};
  for (int i = 0; i < kColorHistBins; ++i) out[size_t(i)] = float(double(hist[i]) / n);
  for (int k = 0; k < 3; ++k) {
    const double mean = double(sum[k]) / n;
    out[size_t(kColorHistBins + k)] = float(mean / 255.0);
    out[size_t(kColorHistBins + 3 + k)] = float(std::sqrt(std::max(0.0, double(sq[k]) / n - mean * mean)) / 255.0);
  }
  return out;
}

TEST(ColorStats, SameAsThePerPixelDefinition) {
  cv::RNG rng(11);
  for (int i = 0; i < 60; ++i) {
    const int w = rng.uniform(1, 600), h = rng.uniform(1, 200);
    cv::Mat img(h, w, i % 5 == 4 ? CV_8UC1 : CV_8UC3);
    rng.fill(img, cv::RNG::UNIFORM, 0, 256);
    if (i % 3 == 1) img = img(cv::Rect(0, 0, std::max(1, w - 3), h)).clone();
    const cv::Mat view = i % 3 == 2 && w > 2 ? img(cv::Rect(1, 0, w - 2, h)) : img;  // rows not contiguous
    SCOPED_TRACE(cv::format("%dx%d, %d channels", view.cols, view.rows, view.channels()));
    EXPECT_EQ(color_stats(view), per_pixel_color_stats(view));
  }
  const cv::Mat photo = synthetic_photo(500, 375, 2);
  EXPECT_EQ(color_stats(photo), per_pixel_color_stats(photo));
}

}  // namespace
}  // namespace irbis::test

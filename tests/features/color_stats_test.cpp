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

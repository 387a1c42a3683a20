#include <algorithm>

#include <gtest/gtest.h>

#include "hash_test_util.h"
#include "irbis/errors.h"

namespace irbis::test {
namespace {

TEST(AHash, StableUnderJpegAndResize) {
  EXPECT_LE(worst_stability(ahash, 12), 4);
}

TEST(AHash, DistinctImagesFarApart) {
  std::vector<int> d = distinct_distances(ahash, 16);
  std::sort(d.begin(), d.end());
  EXPECT_GE(d[d.size() / 2], 16) << "median pairwise distance";
}

TEST(AHash, LeftWhiteRightBlack) {
  // Every row of the 8x8 is 255 255 255 255 0 0 0 0, mean 127.5: bits 11110000 per row.
  EXPECT_EQ(ahash(two_halves(64, 48, 32, 255, 0)), 0xF0F0F0F0F0F0F0F0ull);
  EXPECT_EQ(ahash(two_halves(64, 48, 32, 0, 255)), 0x0F0F0F0F0F0F0F0Full);
}

TEST(AHash, TopWhiteBottomBlack) {
  cv::Mat img(40, 40, CV_8UC3, cv::Scalar::all(0));
  img(cv::Rect(0, 0, 40, 20)).setTo(cv::Scalar::all(255));
  EXPECT_EQ(ahash(img), 0xFFFFFFFF00000000ull);
}

TEST(AHash, FlatAndTinyImagesGiveZero) {
  EXPECT_EQ(ahash(cv::Mat(33, 17, CV_8UC3, cv::Scalar(200, 10, 99))), 0ull);
  EXPECT_EQ(ahash(cv::Mat(1, 1, CV_8UC3, cv::Scalar(1, 2, 3))), 0ull);
  EXPECT_NO_THROW(ahash(synthetic_photo(3, 1, 1)));
}

TEST(AHash, UsesBt601Luma) {
  // Pure green (luma 149.7) left of pure red (76.2) and blue (29.1) halves: green > mean.
  cv::Mat img(8, 8, CV_8UC3, cv::Scalar(255, 0, 0));
  img(cv::Rect(0, 0, 4, 8)).setTo(cv::Scalar(0, 255, 0));
  EXPECT_EQ(ahash(img), 0xF0F0F0F0F0F0F0F0ull);
}

}  // namespace
}  // namespace irbis::test

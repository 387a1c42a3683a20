#include <algorithm>

#include <gtest/gtest.h>

#include "hash_test_util.h"

namespace irbis::test {
namespace {

TEST(PHash, StableUnderJpegAndResize) {
  EXPECT_LE(worst_stability(phash, 12), 4);
}

TEST(PHash, DistinctImagesFarApart) {
  std::vector<int> d = distinct_distances(phash, 16);
  std::sort(d.begin(), d.end());
  EXPECT_GE(d[d.size() / 2], 20) << "median pairwise distance";
  EXPECT_GE(d.front(), 8) << "closest pair of unrelated images";
}

TEST(PHash, KnownPatternVerticalEdge) {
  // Left half white, right half black: only horizontal frequencies are non-zero. Row 0 of the
  // 8x8 block is [DC>0, +, 0, -, 0, +, 0, -]; the other 59 coefficients are 0, so the median is
  // 0 and exactly bits 0, 1 and 5 are set.
  EXPECT_EQ(phash(two_halves(64, 64, 32, 255, 0)), 0xC400000000000000ull);
}

TEST(PHash, KnownPatternHorizontalEdgeShowsBitOrder) {
  // Top half white: the same coefficients in column 0, i.e. bits 0, 8 and 40 (row-major).
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar::all(0));
  img(cv::Rect(0, 0, 64, 32)).setTo(cv::Scalar::all(255));
  EXPECT_EQ(phash(img), (1ull << 63) | (1ull << (63 - 8)) | (1ull << (63 - 40)));
}

TEST(PHash, FlatImageHasDefinedValue) {
  // Only the DC coefficient is non-zero: bit 0 set for any non-black image, 0 for black.
  EXPECT_EQ(phash(cv::Mat(50, 70, CV_8UC3, cv::Scalar(90, 120, 200))), 1ull << 63);
  EXPECT_EQ(phash(cv::Mat(50, 70, CV_8UC3, cv::Scalar::all(0))), 0ull);
}

TEST(PHash, TinyInputs) {
  EXPECT_EQ(phash(cv::Mat(1, 1, CV_8UC3, cv::Scalar(10, 20, 30))), 1ull << 63);
  EXPECT_NO_THROW(phash(synthetic_photo(1, 7, 3)));
  EXPECT_NO_THROW(phash(synthetic_photo(500, 2, 3)));
}

TEST(PHash, GrayInputMatchesRgb) {
  const cv::Mat img = synthetic_photo(200, 150, 5);
  cv::Mat gray(img.rows, img.cols, CV_8UC1);
  // A gray RGB image (R = G = B) and its single-channel version hash alike.
  cv::Mat rgb_gray;
  cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
  cv::cvtColor(gray, rgb_gray, cv::COLOR_GRAY2RGB);
  EXPECT_LE(hamming(phash(gray), phash(rgb_gray)), 1);
}

TEST(PHash, RejectsBadInput) {
  EXPECT_THROW(phash(cv::Mat()), Error);
  EXPECT_THROW(phash(cv::Mat(8, 8, CV_32FC3, cv::Scalar::all(0))), Error);
}

}  // namespace
}  // namespace irbis::test

TEST(ImageHashes, EqualsTheThreeSeparateHashes) {
  const cv::Mat img = irbis::test::synthetic_photo(200, 150, 7);
  const irbis::ImageHashes h = irbis::image_hashes(img);
  EXPECT_EQ(h.phash, irbis::phash(img));
  EXPECT_EQ(h.dhash, irbis::dhash(img));
  EXPECT_EQ(h.ahash, irbis::ahash(img));
  // The variants `index` stores come from the same grey image and DCT: equal to phash_variants.
  EXPECT_EQ(h.variants, irbis::phash_variants(img));
  EXPECT_EQ(h.variants[0], h.phash);
}

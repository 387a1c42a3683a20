#include <algorithm>

#include <gtest/gtest.h>

#include "hash_test_util.h"

namespace irbis::test {
namespace {

TEST(DHash, StableUnderJpegAndResize) {
  EXPECT_LE(worst_stability(dhash, 12), 5);
}

TEST(DHash, DistinctImagesFarApart) {
  std::vector<int> d = distinct_distances(dhash, 16);
  std::sort(d.begin(), d.end());
  EXPECT_GE(d[d.size() / 2], 16) << "median pairwise distance";
}

TEST(DHash, Gradients) {
  cv::Mat inc(16, 90, CV_8UC3), dec(16, 90, CV_8UC3);
  for (int x = 0; x < 90; ++x) {
    inc.col(x).setTo(cv::Scalar::all(x * 2));
    dec.col(x).setTo(cv::Scalar::all(255 - x * 2));
  }
  EXPECT_EQ(dhash(inc), ~0ull);  // every pixel darker than its right neighbour
  EXPECT_EQ(dhash(dec), 0ull);
}

TEST(DHash, StepEdge) {
  // 18 px wide, black | white at x = 9: the 9 columns are 0 0 0 0 127.5 255 255 255 255,
  // so bits 3 and 4 of each row are set.
  EXPECT_EQ(dhash(two_halves(18, 8, 9, 0, 255)), 0x1818181818181818ull);
}

TEST(DHash, FlatAndTinyImagesGiveZero) {
  EXPECT_EQ(dhash(cv::Mat(20, 20, CV_8UC3, cv::Scalar::all(77))), 0ull);
  EXPECT_EQ(dhash(cv::Mat(1, 1, CV_8UC3, cv::Scalar::all(255))), 0ull);
  EXPECT_NO_THROW(dhash(synthetic_photo(1, 300, 2)));
}

// The mirrored dHash follows from the dHash (row bits reversed and inverted): equal to the dHash
// of the really mirrored image except where two neighbouring cells tie.
TEST(DHash, MirroredFromTheHashMatchesTheMirroredImage) {
  int worst = 0;
  for (int s = 0; s < 12; ++s) {
    const cv::Mat img = synthetic_photo(640, 480, s);
    cv::Mat flipped;
    cv::flip(img, flipped, 1);
    worst = std::max(worst, hamming(dhash_mirrored(dhash(img)), dhash(flipped)));
    EXPECT_EQ(dhash_mirrored(dhash_mirrored(dhash(img))), dhash(img)) << "an involution";
  }
  EXPECT_LE(worst, 2);
  // Exact on a gradient: brighter to the right becomes brighter to the left.
  cv::Mat inc(16, 90, CV_8UC3);
  for (int x = 0; x < 90; ++x) inc.col(x).setTo(cv::Scalar::all(x * 2));
  EXPECT_EQ(dhash_mirrored(dhash(inc)), 0ull);
  // Bit layout: row-major, bit i at 63 - i; column 0 of row 0 maps to column 7 of row 0, inverted.
  EXPECT_EQ(dhash_mirrored(uint64_t(1) << 63), ~(uint64_t(1) << 56));
}

}  // namespace
}  // namespace irbis::test

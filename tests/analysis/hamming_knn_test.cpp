// The verifier's descriptor matching (analysis/impl/hamming_knn.h) against the OpenCV matcher it
// replaces: the same two nearest neighbours, distances and tie order, row for row.
#include "analysis/impl/hamming_knn.h"

#include <random>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/features2d.hpp>

namespace irbis::impl {
namespace {

cv::Mat random_descriptors(int rows, int cols, std::mt19937& rng) {
  cv::Mat m(rows, cols, CV_8U);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m.at<uint8_t>(r, c) = uint8_t(rng());
  return m;
}

void expect_same_as_bfmatcher(const cv::Mat& query, const cv::Mat& train) {
  std::vector<std::vector<cv::DMatch>> want;
  cv::BFMatcher(cv::NORM_HAMMING).knnMatch(query, train, want, 2);
  const std::vector<std::vector<cv::DMatch>> got = knn2_hamming(query, train);
  ASSERT_EQ(got.size(), want.size());
  for (size_t q = 0; q < want.size(); ++q) {
    ASSERT_EQ(got[q].size(), want[q].size()) << "query row " << q;
    for (size_t k = 0; k < want[q].size(); ++k) {
      EXPECT_EQ(got[q][k].queryIdx, want[q][k].queryIdx);
      EXPECT_EQ(got[q][k].trainIdx, want[q][k].trainIdx) << "query row " << q << ", neighbour " << k;
      EXPECT_EQ(got[q][k].distance, want[q][k].distance) << "query row " << q << ", neighbour " << k;
    }
  }
}

TEST(HammingKnn, TheTwoNearestAreBFMatchersRowForRow) {
  std::mt19937 rng(7);
  // ORB's 32 bytes, and a width with a byte tail (the generic loop).
  for (int cols : {32, 13}) {
    const cv::Mat query = random_descriptors(300, cols, rng);
    cv::Mat train = random_descriptors(400, cols, rng);
    // Near copies of query rows at a few bits, so that the nearest is not a chance row.
    for (int r = 0; r < 100; ++r) {
      query.row(r).copyTo(train.row(3 * r));
      train.at<uint8_t>(3 * r, r % cols) ^= uint8_t(1u << (r % 8));
    }
    expect_same_as_bfmatcher(query, train);
  }
}

TEST(HammingKnn, TiesGoToTheEarlierTrainRowAsInBFMatcher) {
  std::mt19937 rng(11);
  const cv::Mat query = random_descriptors(50, 32, rng);
  // Every train row three times: each query's nearest distance is tied three ways, and so is the second.
  cv::Mat unique = random_descriptors(40, 32, rng), train;
  cv::vconcat(std::vector<cv::Mat>{unique, unique, unique}, train);
  expect_same_as_bfmatcher(query, train);
  const auto got = knn2_hamming(query, train);
  for (const auto& m : got) {
    ASSERT_EQ(m.size(), 2u);
    EXPECT_EQ(m[0].distance, m[1].distance);  // the tie is kept, the earlier row first
    EXPECT_LT(m[0].trainIdx, m[1].trainIdx);
  }
}

TEST(HammingKnn, OneTrainRowGivesOneNeighbourAndNoneGivesNone) {
  std::mt19937 rng(3);
  const cv::Mat query = random_descriptors(5, 32, rng);
  expect_same_as_bfmatcher(query, random_descriptors(1, 32, rng));
  const auto none = knn2_hamming(query, cv::Mat());
  ASSERT_EQ(none.size(), 5u);
  for (const auto& m : none) EXPECT_TRUE(m.empty());
  EXPECT_TRUE(knn2_hamming(cv::Mat(), query).empty());
  EXPECT_THROW(knn2_hamming(query, random_descriptors(5, 16, rng)), cv::Exception);
}

// The AVX-512 kernel (chosen at run time for 32-byte rows) against the scalar loop and BFMatcher:
// train sizes around its 8-row steps, ties, and rows nearer than the first neighbours found.
TEST(HammingKnn, SimdKernelsGiveTheScalarLoopsNeighbours) {
  std::mt19937 rng(5);
  for (const HammingSimd cap : {HammingSimd::avx512, HammingSimd::avx2}) {
    const HammingSimd used = knn2_simd(cap);
    if (used != cap) GTEST_LOG_(INFO) << "kernel " << int(cap) << " not on this CPU: kernel " << int(used) << " instead";
    for (int rows : {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 63, 1000}) {
      const cv::Mat query = random_descriptors(120, 32, rng);
      cv::Mat train = random_descriptors(rows, 32, rng);
      for (int r = 0; r < std::min(rows, 40); ++r) {  // near copies and exact ties among the rows
        query.row(r).copyTo(train.row(rows - 1 - r));
        if (r % 3 == 0) train.at<uint8_t>(rows - 1 - r, r % 32) ^= 1;
      }
      if (rows >= 4) train.row(0).copyTo(train.row(rows / 2));
      knn2_simd(cap);
      const auto fast = knn2_hamming(query, train);
      knn2_simd(HammingSimd::none);
      const auto scalar = knn2_hamming(query, train);
      ASSERT_EQ(fast.size(), scalar.size());
      for (size_t q = 0; q < fast.size(); ++q) {
        ASSERT_EQ(fast[q].size(), scalar[q].size()) << rows << " train rows, query " << q;
        for (size_t k = 0; k < fast[q].size(); ++k) {
          EXPECT_EQ(fast[q][k].trainIdx, scalar[q][k].trainIdx) << rows << " train rows, query " << q;
          EXPECT_EQ(fast[q][k].distance, scalar[q][k].distance) << rows << " train rows, query " << q;
        }
      }
      knn2_simd(cap);
      expect_same_as_bfmatcher(query, train);
    }
  }
  EXPECT_EQ(knn2_simd(HammingSimd::none), HammingSimd::none);
  EXPECT_EQ(knn2_simd(HammingSimd::avx2), HammingSimd::avx2) << "AVX2 is the build's baseline (x86-64-v3)";
  knn2_simd(HammingSimd::avx512);
}

}  // namespace
}  // namespace irbis::impl

// The two nearest neighbours of binary descriptors (ORB's 32 bytes) by Hamming distance: what
// cv::BFMatcher(NORM_HAMMING).knnMatch(query, train, k = 2) returns, match for match, at a
// fraction of its cost. OpenCV 4.6's brute-force path calls an instrumented distance function per
// descriptor pair (a trace region each time), ~6 ms per 1000 x 1000 matching; here it is a popcount
// loop over 64-bit words (~0.5 ms), or 8 train rows per AVX-512 step. Internal to src/analysis
// (the verifier, verify.cpp).
#pragma once
#include <vector>

#include <opencv2/core.hpp>

namespace irbis::impl {

// For every row of `query` (CV_8U, n x bytes), the nearest and second-nearest rows of `train`
// (same width), as BFMatcher's knnMatch with k = 2 gives them: distances as float, ties to the
// lower train index, one DMatch only when train has a single row, none when it is empty.
// Throws cv::Exception through CV_Assert when the types or widths differ.
// 32-byte rows (ORB) use an AVX-512 VPOPCNTQ kernel when the CPU has it (run-time check), else a
// scalar popcount loop.
std::vector<std::vector<cv::DMatch>> knn2_hamming(const cv::Mat& query, const cv::Mat& train);

// The kernels of 32-byte rows (ORB), chosen at run time: AVX-512 VPOPCNTQ, else AVX2 (the build's
// baseline), else the scalar loop. All give the same neighbours, distances and ties.
enum class HammingSimd { none = 0, avx2 = 1, avx512 = 2 };
// Caps the kernel knn2_hamming may use (tests compare each with the scalar loop); returns the one
// now in use (the cap, or less where the CPU lacks it).
HammingSimd knn2_simd(HammingSimd cap);

}  // namespace irbis::impl

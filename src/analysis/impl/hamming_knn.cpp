// Two-nearest Hamming matching of binary descriptors: see hamming_knn.h.
#include "analysis/impl/hamming_knn.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

namespace irbis::impl {

namespace {

// Hamming distance of two rows of `words` 64-bit words (ORB: 4) plus a byte tail.
inline int hamming(const uint8_t* a, const uint8_t* b, int words, int tail) {
  int d = 0;
  for (int w = 0; w < words; ++w) {
    uint64_t x, y;
    std::memcpy(&x, a + 8 * w, 8);
    std::memcpy(&y, b + 8 * w, 8);
    d += std::popcount(x ^ y);
  }
  for (int t = 0; t < tail; ++t) d += std::popcount(unsigned(a[8 * words + t] ^ b[8 * words + t]));
  return d;
}

// The scan for one width: Words known at compile time (ORB: 4) unrolls the popcounts, which is
// most of the speed; 0 = any width (`words` at run time).
template <int Words>
void scan(const cv::Mat& query, const cv::Mat& train, int words, int tail, std::vector<std::vector<cv::DMatch>>& out) {
  if constexpr (Words > 0) words = Words;
  for (int q = 0; q < query.rows; ++q) {
    const uint8_t* a = query.ptr<uint8_t>(q);
    // Strict comparisons keep the earlier train row on a tie, as BFMatcher's insertion does.
    int d1 = std::numeric_limits<int>::max(), d2 = d1, i1 = -1, i2 = -1;
    for (int t = 0; t < train.rows; ++t) {
      const int d = hamming(a, train.ptr<uint8_t>(t), words, tail);
      if (d < d2) {
        if (d < d1) d2 = d1, i2 = i1, d1 = d, i1 = t;
        else d2 = d, i2 = t;
      }
    }
    auto& m = out[size_t(q)];
    m.emplace_back(q, i1, 0, float(d1));
    if (i2 >= 0) m.emplace_back(q, i2, 0, float(d2));
  }
}

}  // namespace

std::vector<std::vector<cv::DMatch>> knn2_hamming(const cv::Mat& query, const cv::Mat& train) {
  std::vector<std::vector<cv::DMatch>> out;
  if (query.empty()) return out;
  CV_Assert(query.type() == CV_8U && (train.empty() || (train.type() == CV_8U && train.cols == query.cols)));
  out.resize(size_t(query.rows));
  if (train.empty()) return out;
  const int words = query.cols / 8, tail = query.cols % 8;
  if (words == 4 && tail == 0) scan<4>(query, train, words, 0, out);
  else scan<0>(query, train, words, tail, out);
  return out;
}

}  // namespace irbis::impl

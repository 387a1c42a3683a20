// Two-nearest Hamming matching of binary descriptors: see hamming_knn.h.
#include "analysis/impl/hamming_knn.h"

#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>
#endif

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

// The running two nearest of one query row. Strict comparisons keep the earlier train row on a
// tie, as BFMatcher's insertion does; rows must be offered in train order.
struct TwoNearest {
  int d1 = std::numeric_limits<int>::max(), d2 = std::numeric_limits<int>::max(), i1 = -1, i2 = -1;
  void offer(int d, int t) {
    if (d < d2) {
      if (d < d1) d2 = d1, i2 = i1, d1 = d, i1 = t;
      else d2 = d, i2 = t;
    }
  }
  void put(int q, std::vector<cv::DMatch>& m) const {
    m.emplace_back(q, i1, 0, float(d1));
    if (i2 >= 0) m.emplace_back(q, i2, 0, float(d2));
  }
};

// The scan for one width: Words known at compile time (ORB: 4) unrolls the popcounts, which is
// most of the speed; 0 = any width (`words` at run time).
template <int Words>
void scan(const cv::Mat& query, const cv::Mat& train, int words, int tail, std::vector<std::vector<cv::DMatch>>& out) {
  if constexpr (Words > 0) words = Words;
  for (int q = 0; q < query.rows; ++q) {
    const uint8_t* a = query.ptr<uint8_t>(q);
    TwoNearest best;
    for (int t = 0; t < train.rows; ++t) best.offer(hamming(a, train.ptr<uint8_t>(t), words, tail), t);
    best.put(q, out[size_t(q)]);
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
// ORB's 32-byte rows with AVX-512 VPOPCNTQ: the train rows are laid out word by word (plane w holds
// word w of every row, padded to a multiple of 8 rows), so one step gives the distances of 8 train
// rows to a query as 8 lanes. Only the rows closer than the current second nearest go through
// TwoNearest, in train order, so the neighbours, distances and ties are the scalar scan's.
__attribute__((target("avx512f,avx512vpopcntdq"))) void scan32_avx512(const cv::Mat& query, const cv::Mat& train,
                                                                      std::vector<std::vector<cv::DMatch>>& out) {
  const int n = train.rows, padded = (n + 7) & ~7;
  std::vector<uint64_t> planes(size_t(4) * size_t(padded), 0);
  for (int t = 0; t < n; ++t)
    for (int w = 0; w < 4; ++w) std::memcpy(&planes[size_t(w) * size_t(padded) + size_t(t)], train.ptr<uint8_t>(t) + 8 * w, 8);
  const uint64_t* p0 = planes.data();
  const uint64_t* p1 = p0 + padded;
  const uint64_t* p2 = p1 + padded;
  const uint64_t* p3 = p2 + padded;
  alignas(64) uint64_t dist[8];
  for (int q = 0; q < query.rows; ++q) {
    uint64_t w[4];
    std::memcpy(w, query.ptr<uint8_t>(q), 32);
    const __m512i q0 = _mm512_set1_epi64(int64_t(w[0])), q1 = _mm512_set1_epi64(int64_t(w[1]));
    const __m512i q2 = _mm512_set1_epi64(int64_t(w[2])), q3 = _mm512_set1_epi64(int64_t(w[3]));
    TwoNearest best;
    for (int t = 0; t < padded; t += 8) {
      const __m512i d = _mm512_add_epi64(
          _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(q0, _mm512_loadu_si512(p0 + t))),
                           _mm512_popcnt_epi64(_mm512_xor_si512(q1, _mm512_loadu_si512(p1 + t)))),
          _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_xor_si512(q2, _mm512_loadu_si512(p2 + t))),
                           _mm512_popcnt_epi64(_mm512_xor_si512(q3, _mm512_loadu_si512(p3 + t)))));
      const int left = n - t;
      const __mmask8 lanes = left >= 8 ? __mmask8(0xFF) : __mmask8((1u << left) - 1);
      // Distances are at most 256, so a second nearest above that (none yet) lets every row in.
      unsigned m = _mm512_mask_cmplt_epu64_mask(lanes, d, _mm512_set1_epi64(std::min(best.d2, 257)));
      if (!m) continue;
      _mm512_store_si512(dist, d);
      for (; m; m &= m - 1) {
        const int k = std::countr_zero(m);
        best.offer(int(dist[k]), t + k);
      }
    }
    best.put(q, out[size_t(q)]);
  }
}

#if defined(__AVX2__)
// The same with AVX2, 4 train rows a step: the bytes' popcounts by nibble lookup (Mula's method),
// the four words' added bytewise (at most 32 a byte), then summed per row by SAD.
void scan32_avx2(const cv::Mat& query, const cv::Mat& train, std::vector<std::vector<cv::DMatch>>& out) {
  const int n = train.rows, padded = (n + 3) & ~3;
  std::vector<uint64_t> planes(size_t(4) * size_t(padded), 0);
  for (int t = 0; t < n; ++t)
    for (int w = 0; w < 4; ++w) std::memcpy(&planes[size_t(w) * size_t(padded) + size_t(t)], train.ptr<uint8_t>(t) + 8 * w, 8);
  const uint64_t* p[4] = {planes.data(), planes.data() + padded, planes.data() + 2 * padded, planes.data() + 3 * padded};
  const __m256i low_nibble = _mm256_set1_epi8(0x0f), zero = _mm256_setzero_si256();
  const __m256i bits = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2,
                                        3, 3, 4);
  const auto byte_popcounts = [&](__m256i v) {
    return _mm256_add_epi8(_mm256_shuffle_epi8(bits, _mm256_and_si256(v, low_nibble)),
                           _mm256_shuffle_epi8(bits, _mm256_and_si256(_mm256_srli_epi16(v, 4), low_nibble)));
  };
  alignas(32) uint64_t dist[4];
  for (int q = 0; q < query.rows; ++q) {
    uint64_t w[4];
    std::memcpy(w, query.ptr<uint8_t>(q), 32);
    __m256i qw[4];
    for (int k = 0; k < 4; ++k) qw[k] = _mm256_set1_epi64x(int64_t(w[k]));
    TwoNearest best;
    for (int t = 0; t < padded; t += 4) {
      __m256i counts = zero;
      for (int k = 0; k < 4; ++k)
        counts = _mm256_add_epi8(counts, byte_popcounts(_mm256_xor_si256(
                                             qw[k], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p[k] + t)))));
      const __m256i d = _mm256_sad_epu8(counts, zero);
      const int left = n - t;
      // Distances are at most 256, so a second nearest above that (none yet) lets every row in.
      const __m256i closer = _mm256_cmpgt_epi64(_mm256_set1_epi64x(std::min(best.d2, 257)), d);
      unsigned m = unsigned(_mm256_movemask_pd(_mm256_castsi256_pd(closer))) & (left >= 4 ? 0xFu : (1u << left) - 1);
      if (!m) continue;
      _mm256_store_si256(reinterpret_cast<__m256i*>(dist), d);
      for (; m; m &= m - 1) {
        const int k = std::countr_zero(m);
        best.offer(int(dist[k]), t + k);
      }
    }
    best.put(q, out[size_t(q)]);
  }
}
#endif

bool have_avx512_popcnt() {
  static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
  return yes;
}
#endif

std::atomic<HammingSimd> g_cap{HammingSimd::avx512};

HammingSimd kernel_in_use() {
  const HammingSimd cap = g_cap.load(std::memory_order_relaxed);
#if defined(__GNUC__) && defined(__x86_64__)
  if (cap == HammingSimd::avx512 && have_avx512_popcnt()) return HammingSimd::avx512;
#endif
#if defined(__AVX2__)
  if (cap != HammingSimd::none) return HammingSimd::avx2;
#endif
  return HammingSimd::none;
}

}  // namespace

HammingSimd knn2_simd(HammingSimd cap) {
  g_cap.store(cap, std::memory_order_relaxed);
  return kernel_in_use();
}

std::vector<std::vector<cv::DMatch>> knn2_hamming(const cv::Mat& query, const cv::Mat& train) {
  std::vector<std::vector<cv::DMatch>> out;
  if (query.empty()) return out;
  CV_Assert(query.type() == CV_8U && (train.empty() || (train.type() == CV_8U && train.cols == query.cols)));
  out.resize(size_t(query.rows));
  if (train.empty()) return out;
  const int words = query.cols / 8, tail = query.cols % 8;
  if (words == 4 && tail == 0) {
    switch (kernel_in_use()) {
#if defined(__GNUC__) && defined(__x86_64__)
      case HammingSimd::avx512: scan32_avx512(query, train, out); return out;
#endif
#if defined(__AVX2__)
      case HammingSimd::avx2: scan32_avx2(query, train, out); return out;
#endif
      default: break;
    }
    scan<4>(query, train, words, 0, out);
  } else {
    scan<0>(query, train, words, tail, out);
  }
  return out;
}

}  // namespace irbis::impl

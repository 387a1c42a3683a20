// irbis::resize_area: area-averaging resize (see docs/features.md).
//
// OpenCV's INTER_AREA computes exact pixel-area weights only when *both* axes shrink (or stay
// the same); as soon as one axis grows it switches to a bilinear-like kernel for the whole image.
// Area averaging is separable, so when one axis shrinks and the other grows we resize the axes
// one after the other: the shrinking pass is then exact area averaging, the growing pass is
// OpenCV's INTER_AREA upscaling (bilinear-like). The intermediate is kept in float so that 8-bit
// inputs are rounded only once.
//
// The shrink (both axes, a fractional factor on at least one) is computed here, not by cv::resize:
// the same weights and the same float operations in the same order for every output value, so the
// bytes are cv::resize's, bit for bit (tests/features/resize_area_test.cpp checks hundreds of sizes
// and real photos), at a sixth to a tenth of its CPU (BENCHMARKS.md, "The index's other stages").
// cv::resize runs each source row's horizontal sums as a scalar loop over the taps; here eight
// source rows go through the taps at once, one row per SIMD lane, which keeps each lane's sequence
// of multiplies and adds exactly the scalar one. This file is compiled with -ffp-contract=off
// (src/features/CMakeLists.txt): a multiply and an add fused into one FMA would round differently.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <vector>

#include <opencv2/imgproc.hpp>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

namespace {

// One axis of an area shrink of `src` samples to `dst`: the source samples of each output and their
// weights, in ascending source order. Output o averages the cell [o s, o s + s) (s = src / dst, as
// cv::resize derives it from the two sizes) over its width w = min(s, src - o s): each whole source
// pixel inside weighs 1 / w, a partial one at either end its covered length / w. As in cv::resize,
// a partial end shorter than 1e-3 is left out, and the cell is clipped to the source.
struct AreaAxis {
  std::vector<int> begin;      // dst + 1 entries: output o's taps are [begin[o], begin[o + 1])
  std::vector<int> source;     // source index of each tap
  std::vector<float> weight;   // its weight
};

AreaAxis area_axis(int src, int dst) {
  const double scale = 1.0 / (double(dst) / double(src));
  AreaAxis a;
  a.begin.reserve(size_t(dst) + 1);
  a.source.reserve(size_t(src) + 2 * size_t(dst));
  a.weight.reserve(size_t(src) + 2 * size_t(dst));
  const auto tap = [&a](int i, double w) {
    a.source.push_back(i);
    a.weight.push_back(float(w));
  };
  for (int o = 0; o < dst; ++o) {
    a.begin.push_back(int(a.source.size()));
    const double lo = o * scale, hi = lo + scale;
    const double width = std::min(scale, src - lo);
    const int last = std::min(int(std::floor(hi)), src - 1);  // first pixel not wholly inside (or the last one)
    const int first = std::min(int(std::ceil(lo)), last);     // first pixel wholly inside
    if (first - lo > 1e-3) tap(first - 1, (first - lo) / width);
    for (int i = first; i < last; ++i) tap(i, 1.0 / width);
    if (hi - last > 1e-3) tap(last, std::min(std::min(hi - last, 1.0), width) / width);
  }
  a.begin.push_back(int(a.source.size()));
  return a;
}

// cv::resize takes a separate path (sums of whole blocks, other rounding) when both factors are
// integers; those sizes stay with it.
bool integer_factors(const cv::Size& from, const cv::Size& to) {
  const auto integer = [](int src, int dst) {
    const double s = 1.0 / (double(dst) / double(src));
    return std::abs(s - std::nearbyint(s)) < DBL_EPSILON;
  };
  return integer(from.width, to.width) && integer(from.height, to.height);
}

// What this file computes itself: an 8-bit or float image of up to 4 channels shrunk on both axes
// (at least one strictly, not both by an integer factor).
bool own_shrink(const cv::Mat& src, const cv::Size& to) {
  return (src.depth() == CV_8U || src.depth() == CV_32F) && src.channels() <= 4 && to.width <= src.cols &&
         to.height <= src.rows && to != src.size() && !integer_factors(src.size(), to);
}

constexpr int kLanes = 8;  // source rows per block: one per lane
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));

#if defined(__AVX2__)
// v[r] holds 8 floats of row r; afterwards v[k] holds element k of each row (an 8 x 8 transpose).
inline void transpose8(__m256 (&v)[8]) {
  const __m256 a0 = _mm256_unpacklo_ps(v[0], v[1]), a1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 a2 = _mm256_unpacklo_ps(v[2], v[3]), a3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 a4 = _mm256_unpacklo_ps(v[4], v[5]), a5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 a6 = _mm256_unpacklo_ps(v[6], v[7]), a7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 b0 = _mm256_shuffle_ps(a0, a2, 0x44), b1 = _mm256_shuffle_ps(a0, a2, 0xEE);
  const __m256 b2 = _mm256_shuffle_ps(a1, a3, 0x44), b3 = _mm256_shuffle_ps(a1, a3, 0xEE);
  const __m256 b4 = _mm256_shuffle_ps(a4, a6, 0x44), b5 = _mm256_shuffle_ps(a4, a6, 0xEE);
  const __m256 b6 = _mm256_shuffle_ps(a5, a7, 0x44), b7 = _mm256_shuffle_ps(a5, a7, 0xEE);
  v[0] = _mm256_permute2f128_ps(b0, b4, 0x20), v[1] = _mm256_permute2f128_ps(b1, b5, 0x20);
  v[2] = _mm256_permute2f128_ps(b2, b6, 0x20), v[3] = _mm256_permute2f128_ps(b3, b7, 0x20);
  v[4] = _mm256_permute2f128_ps(b0, b4, 0x31), v[5] = _mm256_permute2f128_ps(b1, b5, 0x31);
  v[6] = _mm256_permute2f128_ps(b2, b6, 0x31), v[7] = _mm256_permute2f128_ps(b3, b7, 0x31);
}
#endif

// block[j][r] = float(src(y0 + r, scalar column j)), rows past the image repeating its last one
// (their lanes are computed and never read).
template <typename T>
void load_block(const cv::Mat& src, int y0, std::vector<Lanes>& block) {
  const int scalars = src.cols * src.channels();
  block.resize(size_t(scalars));
  const T* row[kLanes];
  for (int r = 0; r < kLanes; ++r) row[r] = src.ptr<T>(std::min(y0 + r, src.rows - 1));
  int j = 0;
#if defined(__AVX2__)
  for (; j + 8 <= scalars; j += 8) {
    __m256 v[kLanes];
    for (int r = 0; r < kLanes; ++r) {
      if constexpr (std::is_same_v<T, uint8_t>)
        v[r] = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row[r] + j))));
      else
        v[r] = _mm256_loadu_ps(row[r] + j);
    }
    transpose8(v);  // v[k]: rows 0..7 of column j + k
    for (int k = 0; k < 8; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(block.data() + j + k), v[k]);
  }
#endif
  for (; j < scalars; ++j)
    for (int r = 0; r < kLanes; ++r) block[size_t(j)][r] = float(row[r][j]);
}

// rows[r * n + j] = lanes[j][r] for the first `count` rows.
void unload_rows(const std::vector<Lanes>& lanes, int count, std::vector<float>& rows) {
  const int n = int(lanes.size());
  rows.resize(size_t(kLanes) * size_t(n));
  int j = 0;
#if defined(__AVX2__)
  for (; j + 8 <= n; j += 8) {
    __m256 v[8];
    for (int k = 0; k < 8; ++k) v[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(lanes.data() + j + k));
    transpose8(v);  // v[r]: row r, columns j..j+7
    for (int r = 0; r < count; ++r) _mm256_storeu_ps(rows.data() + size_t(r) * size_t(n) + size_t(j), v[r]);
  }
#endif
  for (; j < n; ++j)
    for (int r = 0; r < count; ++r) rows[size_t(r) * size_t(n) + size_t(j)] = lanes[size_t(j)][r];
}

// sums[dx * CN + c] = the horizontal area sum of output dx, channel c, for the block's 8 rows.
// The channels of one output go through its taps together (independent chains of adds).
template <int CN>
void horizontal(const AreaAxis& x, int dw, const Lanes* __restrict block, Lanes* __restrict sums) {
  const int* __restrict source = x.source.data();
  const float* __restrict weight = x.weight.data();
  for (int dx = 0; dx < dw; ++dx) {
    Lanes b[CN] = {};
    for (int k = x.begin[size_t(dx)]; k < x.begin[size_t(dx) + 1]; ++k) {
      const Lanes* s = block + source[k] * CN;
      for (int c = 0; c < CN; ++c) b[c] = b[c] + s[c] * weight[k];
    }
    for (int c = 0; c < CN; ++c) sums[dx * CN + c] = b[c];
  }
}

// One target size of a multi-size shrink: its axes and where its vertical pass stands.
template <typename T>
struct ShrinkTarget {
  cv::Mat* out;
  AreaAxis x, y;
  std::vector<int> row_of_tap;  // y.source flattened in output-row order with each tap's output row
  std::vector<Lanes> sums;      // horizontal sums of the block's rows, one Lanes per output scalar
  std::vector<float> rows;      // the same, one row per source row of the block
  std::vector<float> acc;       // the output row being summed
  size_t next = 0;              // next vertical tap
  int current = 0;              // the output row `acc` belongs to
};

template <typename T>
void store_row(const std::vector<float>& acc, T* __restrict dst) {
  const size_t n = acc.size();
  const float* __restrict a = acc.data();
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(dst, a, n * sizeof(float));
  } else {
    // cv::saturate_cast<uchar>(float): round half to even (cvRound's cvtss2si), then clamp.
    size_t i = 0;
#if defined(__AVX2__)
    for (; i + 16 <= n; i += 16) {
      const __m256i lo = _mm256_cvtps_epi32(_mm256_loadu_ps(a + i)), hi = _mm256_cvtps_epi32(_mm256_loadu_ps(a + i + 8));
      const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);  // int16, saturated, in order
      const __m128i bytes = _mm_packus_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), bytes);
    }
#endif
    for (; i < n; ++i) dst[i] = uint8_t(std::clamp(int(std::nearbyint(a[i])), 0, 255));
  }
}

// Shrinks src to every target in one pass over its rows: a block of 8 rows is converted to float
// and transposed once, then each target runs its horizontal taps on it (8 rows per operation) and
// its vertical taps on the block's rows. Per output value the operations are cv::resize's:
// horizontally b = 0, then b = b + s * w per tap in source order; vertically the first tap's
// w * b, then a = a + w * b per further tap in source order; rounded once at the end.
template <typename T, int CN>
void shrink_rows(const cv::Mat& src, std::vector<ShrinkTarget<T>>& targets) {
  const int cn = CN;
  thread_local std::vector<Lanes> block;
  for (int y0 = 0; y0 < src.rows; y0 += kLanes) {
    const int count = std::min(kLanes, src.rows - y0);
    bool loaded = false;
    for (auto& t : targets) {
      if (t.next >= t.row_of_tap.size() || t.y.source[t.next] >= y0 + count) continue;
      if (!loaded) load_block<T>(src, y0, block), loaded = true;
      const int dw = t.out->cols;
      t.sums.resize(size_t(dw) * size_t(cn));
      horizontal<CN>(t.x, dw, block.data(), t.sums.data());
      unload_rows(t.sums, count, t.rows);
      const size_t n = t.sums.size();
      for (; t.next < t.row_of_tap.size() && t.y.source[t.next] < y0 + count; ++t.next) {
        const int dy = t.row_of_tap[t.next];
        const float w = t.y.weight[t.next];
        const float* b = t.rows.data() + size_t(t.y.source[t.next] - y0) * n;
        float* __restrict a = t.acc.data();
        if (dy != t.current) {
          store_row(t.acc, t.out->template ptr<T>(t.current));
          t.current = dy;
          for (size_t i = 0; i < n; ++i) a[i] = w * b[i];
        } else {
          for (size_t i = 0; i < n; ++i) a[i] = a[i] + w * b[i];
        }
      }
    }
  }
  for (auto& t : targets) store_row(t.acc, t.out->template ptr<T>(t.current));
}

template <typename T>
void shrink_many(const cv::Mat& src, const std::vector<std::pair<cv::Size, cv::Mat*>>& jobs) {
  std::vector<ShrinkTarget<T>> targets;
  targets.reserve(jobs.size());
  for (const auto& [size, out] : jobs) {
    ShrinkTarget<T> t{out, area_axis(src.cols, size.width), area_axis(src.rows, size.height), {}, {}, {}, {}, 0, 0};
    // The rows are visited once, in order: the vertical taps must not go back (they never do for a
    // shrink; cv::resize computes anything else).
    if (!std::is_sorted(t.y.source.begin(), t.y.source.end())) {
      cv::resize(src, *out, size, 0, 0, cv::INTER_AREA);
      continue;
    }
    for (int dy = 0; dy < size.height; ++dy)
      for (int k = t.y.begin[size_t(dy)]; k < t.y.begin[size_t(dy) + 1]; ++k) t.row_of_tap.push_back(dy);
    t.acc.assign(size_t(size.width) * size_t(src.channels()), 0.f);
    out->create(size, src.type());
    targets.push_back(std::move(t));
  }
  switch (src.channels()) {
    case 1: shrink_rows<T, 1>(src, targets); break;
    case 2: shrink_rows<T, 2>(src, targets); break;
    case 3: shrink_rows<T, 3>(src, targets); break;
    default: shrink_rows<T, 4>(src, targets); break;
  }
}

// Shrinks src to each size (own_shrink holds for each).
void own_shrinks(const cv::Mat& src, const std::vector<std::pair<cv::Size, cv::Mat*>>& jobs) {
  if (jobs.empty()) return;
  if (src.depth() == CV_8U)
    shrink_many<uint8_t>(src, jobs);
  else
    shrink_many<float>(src, jobs);
}

cv::Mat resize_area_one(const cv::Mat& src, int width, int height) {
  if (src.cols == width && src.rows == height) return src.clone();
  const bool shrink_x = width <= src.cols, shrink_y = height <= src.rows;
  cv::Mat dst;
  if (shrink_x == shrink_y) {
    // Both axes shrink: exact area averaging in one pass. Both grow: INTER_AREA upscaling.
    if (shrink_x && own_shrink(src, {width, height}))
      own_shrinks(src, {{cv::Size(width, height), &dst}});
    else
      cv::resize(src, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
    return dst;
  }
  const int depth = src.depth();
  cv::Mat work = src;
  if (depth != CV_32F && depth != CV_64F) src.convertTo(work, CV_32F);
  // Shrink first (fewer pixels for the second pass).
  const cv::Size mid_size = shrink_x ? cv::Size(width, src.rows) : cv::Size(src.cols, height);
  const cv::Mat mid = resize_area_one(work, mid_size.width, mid_size.height);
  cv::resize(mid, dst, cv::Size(width, height), 0, 0, cv::INTER_AREA);
  if (dst.depth() != depth) {
    cv::Mat out;
    dst.convertTo(out, depth);  // rounds and saturates for integer depths
    return out;
  }
  return dst;
}

}  // namespace

cv::Mat resize_area(const cv::Mat& src, int width, int height) {
  IRBIS_THROW_IF_NOT(!src.empty(), Error, "resize_area: empty image");
  IRBIS_THROW_IF_NOT(width > 0 && height > 0, Error, "resize_area: target size must be positive");
  return resize_area_one(src, width, height);
}

std::vector<cv::Mat> resize_area(const cv::Mat& src, const std::vector<cv::Size>& sizes) {
  IRBIS_THROW_IF_NOT(!src.empty(), Error, "resize_area: empty image");
  std::vector<cv::Mat> out(sizes.size());
  std::vector<std::pair<cv::Size, cv::Mat*>> own;
  for (size_t i = 0; i < sizes.size(); ++i) {
    IRBIS_THROW_IF_NOT(sizes[i].width > 0 && sizes[i].height > 0, Error, "resize_area: target size must be positive");
    if (own_shrink(src, sizes[i]))
      own.emplace_back(sizes[i], &out[i]);
    else
      out[i] = resize_area_one(src, sizes[i].width, sizes[i].height);
  }
  own_shrinks(src, own);
  return out;
}

}  // namespace irbis

// irbis::quality_measures: sharpness, exposure, information and colour of one decoded image
// (docs/issues.md defines each column).
#include "irbis/quality.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <deque>
#include <type_traits>
#include <vector>

#include <opencv2/imgproc.hpp>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

namespace {

// Value below which `q` of the histogram's mass lies, as a fraction of 255.
float histogram_percentile(const std::array<int64_t, 256>& hist, int64_t total, double q) {
  const double want = q * double(total);
  int64_t seen = 0;
  for (int v = 0; v < 256; ++v) {
    seen += hist[size_t(v)];
    if (double(seen) >= want && seen > 0) return float(v) / 255.f;
  }
  return 1.f;
}

// 99th percentile of the Sobel gradient magnitude (per pixel of a grey image, CV_8U or CV_32F,
// in grey levels per pixel: 1/8 of the 3x3 Sobel response), exact: a 1024-bin histogram of the
// squared magnitudes finds the bin holding the 99th percentile, and only that bin's values (a few
// dozen) are ordered; the square root is taken of that one value. An nth_element over all values
// cost more than the rest of the quality measures together. The Sobel responses of the interior
// (two pixels in from each side: the border replication makes no edges of its own) are computed
// here, not by cv::Sobel, whose call cost more than the arithmetic at 128 px.
template <typename T>
void sobel_squares(const cv::Mat& grey, int stride, std::vector<float>& out) {
  const int w = grey.cols - 4, h = grey.rows - 4;
  out.resize(size_t(std::max(0, (w + stride - 1) / stride)) * size_t(std::max(0, (h + stride - 1) / stride)));
  float* o = out.data();
  for (int y = 2; y < grey.rows - 2; y += stride) {
    const T *a = grey.ptr<T>(y - 1) + 2, *b = grey.ptr<T>(y) + 2, *c = grey.ptr<T>(y + 1) + 2;
    for (int x = 0; x < w; x += stride, ++o) {
      // |Sobel| <= 4 * 255 per axis for 8-bit input: the integer squares are exact in float.
      using Acc = std::conditional_t<std::is_same_v<T, uint8_t>, int, float>;
      const Acc gx = (Acc(a[x + 1]) + 2 * Acc(b[x + 1]) + Acc(c[x + 1])) - (Acc(a[x - 1]) + 2 * Acc(b[x - 1]) + Acc(c[x - 1]));
      const Acc gy = (Acc(c[x - 1]) + 2 * Acc(c[x]) + Acc(c[x + 1])) - (Acc(a[x - 1]) + 2 * Acc(a[x]) + Acc(a[x + 1]));
      *o = float(gx * gx + gy * gy);
    }
  }
}

// `stride` 2 takes every other pixel of every other interior row (the sharpness grey, 192 px: a
// quarter of the work; the 99th percentile of ~9,000 values).
float high_gradient(const cv::Mat& grey, int stride = 1) {
  thread_local std::vector<float> squares;
  thread_local std::vector<int32_t> bins;  // each square's bin, computed once in a vectorised loop
  if (grey.depth() == CV_8U)
    sobel_squares<uint8_t>(grey, stride, squares);
  else
    sobel_squares<float>(grey, stride, squares);
  if (squares.empty()) return 0.f;
  // Squares up to 2 * 1020^2. Any monotone binning finds the same value: the bins only narrow
  // down where the wanted rank lies.
  constexpr int kBins = 1024;
  constexpr float kMaxSquare = 2.f * 1020.f * 1020.f;
  constexpr float kScale = float(kBins) / kMaxSquare;
  const size_t n = squares.size();
  bins.resize(n);
  {
    const float* __restrict sq = squares.data();
    int32_t* __restrict b = bins.data();
    for (size_t i = 0; i < n; ++i) b[i] = std::min(kBins - 1, int32_t(sq[i] * kScale));
  }
  // Four interleaved histograms: most pixels fall in the lowest bins, and one histogram would make
  // each increment wait for the previous one to the same bin.
  std::array<std::array<int, kBins>, 4> part{};
  size_t x = 0;
  for (; x + 4 <= n; x += 4)
    for (size_t j = 0; j < 4; ++j) ++part[j][size_t(bins[x + j])];
  for (; x < n; ++x) ++part[0][size_t(bins[x])];
  const size_t k = size_t(double(n) * 0.99);  // rank wanted (0-based), as nth_element had it
  size_t below = 0;
  int bin = 0;
  const auto count = [&](int b) { return size_t(part[0][size_t(b)] + part[1][size_t(b)] + part[2][size_t(b)] + part[3][size_t(b)]); };
  while (below + count(bin) <= k) below += count(bin++);
  // The few values in that bin: 16 bins compared at a time, a value kept only from a block that
  // holds one (the per-value loop, with the thread-local vectors re-read around each push, was
  // most of this function's time).
  thread_local std::vector<float> in_bin;
  in_bin.clear();
  const int32_t* __restrict b = bins.data();
  const float* __restrict v = squares.data();
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    int hits = 0;
    for (size_t j = 0; j < 16; ++j) hits += b[i + j] == bin;
    if (hits == 0) continue;
    for (size_t j = 0; j < 16; ++j)
      if (b[i + j] == bin) in_bin.push_back(v[i + j]);
  }
  for (; i < n; ++i)
    if (b[i] == bin) in_bin.push_back(v[i]);
  const auto nth = in_bin.begin() + long(k - below);
  std::nth_element(in_bin.begin(), nth, in_bin.end());
  return std::sqrt(*nth) / 8.f;  // 1/8: a unit step reads 0.5 per pixel
}

// Area averaging of an 8-bit grey image to w x h when neither axis grows: the same weights as
// resize_area (each output pixel the mean of the source area it covers, fractional pixels by
// their covered share), rows first (whole-row multiply-adds the compiler vectorises), then columns;
// float throughout, rounded once. OpenCV's fractional INTER_AREA cost 0.14 ms for a 300x225 decode
// and 0.34 ms for 500x375, this 0.02-0.04 ms. Agrees with resize_area within one grey level.
// The taps of one axis are padded to the same count (zero weights, indices kept in range) and
// stored tap-major, so the column pass is one loop over every output pixel per tap (vectorised;
// a loop over each pixel's own taps was a chain of dependent multiply-adds per pixel, half of
// quality_input's time). Adding a zero-weight tap leaves a sum as it was, so the values are those
// of the per-pixel loop, bit for bit (QualityInput.ShrinkIsThePerPixelAreaAverage).
struct AreaTaps {
  int count = 0;               // taps per output index (the longest; the others padded)
  std::vector<int> index;      // count x dst, tap-major: source index of tap k of output o
  std::vector<float> weight;   // count x dst, tap-major: its weight (0 for padding)
  // Per group of 8 consecutive outputs: the lowest source index any of its taps reads (`base`), and
  // each tap's index less its group's base (`local`, count x dst, tap-major); `spans` source
  // vectors of 8 from base hold every index a group reads (the largest over the groups).
  std::vector<int> base;
  std::vector<int> local;
  int spans = 0;
};
AreaTaps area_taps(int src, int dst) {
  std::vector<int> first(static_cast<size_t>(dst));
  std::vector<std::vector<float>> w(static_cast<size_t>(dst));
  const double scale = double(src) / double(dst);
  AreaTaps t;
  for (int o = 0; o < dst; ++o) {
    const double a = o * scale, b = (o + 1) * scale;
    first[size_t(o)] = int(std::floor(a));
    for (int i = first[size_t(o)]; i < src && double(i) < b; ++i)
      w[size_t(o)].push_back(float((std::min(b, double(i + 1)) - std::max(a, double(i))) / scale));
    t.count = std::max(t.count, int(w[size_t(o)].size()));
  }
  t.index.assign(size_t(t.count) * size_t(dst), 0);
  t.weight.assign(size_t(t.count) * size_t(dst), 0.f);
  for (int k = 0; k < t.count; ++k)
    for (int o = 0; o < dst; ++o) {
      const size_t at = size_t(k) * size_t(dst) + size_t(o);
      t.index[at] = std::min(src - 1, first[size_t(o)] + k);
      if (size_t(k) < w[size_t(o)].size()) t.weight[at] = w[size_t(o)][size_t(k)];
    }
  t.local.assign(t.index.size(), 0);
  for (int g = 0; g * 8 < dst; ++g) {
    const int first_out = g * 8, last_out = std::min(dst, first_out + 8) - 1;
    const int lo = t.index[size_t(first_out)];  // tap 0 of the group's first output: the lowest
    const int hi = t.index[size_t(t.count - 1) * size_t(dst) + size_t(last_out)];
    t.base.push_back(lo);
    t.spans = std::max(t.spans, (hi - lo) / 8 + 1);
    for (int k = 0; k < t.count; ++k)
      for (int o = first_out; o <= last_out; ++o) {
        const size_t at = size_t(k) * size_t(dst) + size_t(o);
        t.local[at] = t.index[at] - lo;
      }
  }
  return t;
}

// The taps of (src, dst), made once per thread: decodes come in a few sizes. A deque, so a
// reference handed out stays valid while the next one is added; emptied only by forget_old_taps.
thread_local std::deque<std::pair<std::pair<int, int>, AreaTaps>> taps_cache;
const AreaTaps& cached_area_taps(int src, int dst) {
  for (const auto& [key, taps] : taps_cache)
    if (key == std::make_pair(src, dst)) return taps;
  taps_cache.push_back({{src, dst}, area_taps(src, dst)});
  return taps_cache.back().second;
}
void forget_old_taps() {
  if (taps_cache.size() > 16) taps_cache.clear();
}

#if defined(__AVX2__) && defined(__FMA__)
// Lane j of the result: the local[j]-th float of the `Spans` vectors v (local < 8 * Spans), by
// in-register permutes and blends (an AVX2 gather cost ~8 cycles per 8 floats on Zen 4).
template <int Spans>
inline __m256 pick(const __m256 (&v)[4], __m256i local) {
  __m256 r = _mm256_permutevar8x32_ps(v[0], local);
  for (int m = 1; m < Spans; ++m) {
    const __m256 in_m = _mm256_castsi256_ps(_mm256_cmpgt_epi32(local, _mm256_set1_epi32(8 * m - 1)));
    r = _mm256_blendv_ps(r, _mm256_permutevar8x32_ps(v[m], local), in_m);
  }
  return r;
}

// Groups of 8 outputs whose taps lie within Spans vectors of their base (acc readable for
// 8 * Spans floats past every base).
template <int Spans>
void pick_taps(const AreaTaps& t, int w, const float* __restrict acc, float* __restrict sum) {
  for (int ox = 0; ox + 8 <= w; ox += 8) {
    const float* src = acc + t.base[size_t(ox / 8)];
    __m256 v[4];
    for (int m = 0; m < Spans; ++m) v[m] = _mm256_loadu_ps(src + 8 * m);
    __m256 s = _mm256_setzero_ps();
    for (int k = 0; k < t.count; ++k) {
      const size_t at = size_t(k) * size_t(w) + size_t(ox);
      const __m256i local = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.local.data() + at));
      s = _mm256_fmadd_ps(_mm256_loadu_ps(t.weight.data() + at), pick<Spans>(v, local), s);
    }
    _mm256_storeu_ps(sum + ox, s);
  }
}

// Groups whose taps spread wider (a decode over ~4 times the grey's side: 500 px to 128 at 12 MP):
// the same multiply-adds on an AVX2 gather of each tap's source floats (the scalar loop cost
// three times as much).
void gather_wide_taps(const AreaTaps& t, int w, const float* __restrict acc, float* __restrict sum) {
  for (int ox = 0; ox + 8 <= w; ox += 8) {
    __m256 s = _mm256_setzero_ps();
    for (int k = 0; k < t.count; ++k) {
      const size_t at = size_t(k) * size_t(w) + size_t(ox);
      const __m256i index = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.index.data() + at));
      s = _mm256_fmadd_ps(_mm256_loadu_ps(t.weight.data() + at), _mm256_i32gather_ps(acc, index, 4), s);
    }
    _mm256_storeu_ps(sum + ox, s);
  }
}
#endif

// sum[o] = sum over taps k, in order, of weight[k][o] * acc[index[k][o]], each step one fused
// multiply-add from 0 (the values of `sum[o] += w * acc[i]` per tap, bit for bit). Eight outputs
// at a time where the baseline has AVX2: the source floats a group reads are loaded as a few
// vectors and permuted into place (the scalar loop was four loads and a store per output and tap,
// most of quality_input's time); acc must be readable for 32 floats past its end.
void gather_taps(const AreaTaps& t, int w, const float* __restrict acc, float* __restrict sum) {
  int ox = 0;
#if defined(__AVX2__) && defined(__FMA__)
  if (t.spans <= 4) {
    switch (t.spans) {
      case 1: pick_taps<1>(t, w, acc, sum); break;
      case 2: pick_taps<2>(t, w, acc, sum); break;
      case 3: pick_taps<3>(t, w, acc, sum); break;
      default: pick_taps<4>(t, w, acc, sum); break;
    }
  } else {
    gather_wide_taps(t, w, acc, sum);
  }
  ox = w / 8 * 8;
#endif
  for (; ox < w; ++ox) {
    float s = 0.f;
    for (int k = 0; k < t.count; ++k) {
      const size_t at = size_t(k) * size_t(w) + size_t(ox);
      s = std::fma(t.weight[at], acc[t.index[at]], s);
    }
    sum[ox] = s;
  }
}

cv::Mat shrink_area_grey(const cv::Mat& grey, int w, int h) {
  thread_local std::vector<float> row, col;  // one row of the row pass (grey.cols); one output row
  forget_old_taps();  // before taking references
  const AreaTaps &ty = cached_area_taps(grey.rows, h), &tx = cached_area_taps(grey.cols, w);
  const int cols = grey.cols;
  row.resize(size_t(cols) + 32, 0.f);  // gather_taps reads up to 32 floats past a group's base
  col.resize(size_t(w));
  cv::Mat out(h, w, CV_8U);
  // Each output row's row pass, then at once its column pass: one source-wide row stays in L1
  // (the whole row pass, h x cols floats, was 230 KB at 192 px).
  float* __restrict acc = row.data();
  float* __restrict sum = col.data();
  for (int oy = 0; oy < h; ++oy) {
    std::fill(acc, acc + cols, 0.f);
    for (int k = 0; k < ty.count; ++k) {
      const size_t at = size_t(k) * size_t(h) + size_t(oy);
      const float wk = ty.weight[at];
      if (wk == 0.f) continue;  // padding (the source row index is repeated)
      const uint8_t* __restrict src = grey.ptr<uint8_t>(ty.index[at]);
      for (int x = 0; x < cols; ++x) acc[x] = std::fma(wk, float(src[x]), acc[x]);
    }
    gather_taps(tx, w, acc, sum);
    uint8_t* __restrict dst = out.ptr<uint8_t>(oy);
    // cv::saturate_cast<uint8_t>(float): round half to even (the default rounding mode, as
    // cvRound's cvtss2si), then clamp; written so it vectorises.
    for (int ox = 0; ox < w; ++ox) dst[ox] = uint8_t(std::clamp(int(std::nearbyint(sum[ox])), 0, 255));
  }
  return out;
}

}  // namespace

void gaussian_blur_sigma1(const cv::Mat& grey, cv::Mat& out) {
  IRBIS_THROW_IF_NOT(grey.type() == CV_8U && grey.rows >= 5 && grey.cols >= 5, Error,
                     "gaussian_blur_sigma1: expects an 8-bit grey image of 5 x 5 or more");
  // OpenCV's 9 taps for sigma 1 (getGaussianKernel, as GaussianBlur makes them for float images).
  static const std::array<float, 9> taps = [] {
    const cv::Mat k = cv::getGaussianKernel(9, 1.0, CV_32F);
    std::array<float, 9> t{};
    for (int i = 0; i < 9; ++i) t[size_t(i)] = k.at<float>(i);
    return t;
  }();
  const int w = grey.cols, h = grey.rows;
  const auto reflect = [](int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; };  // BORDER_REFLECT_101
  thread_local std::vector<float> ext, rows;  // one row with 4 reflected pixels each side; the row pass
  ext.resize(size_t(w) + 8);
  rows.resize(size_t(w) * size_t(h));
  // Rows: a multiply-add per tap in order, from 0 (OpenCV's RowVec_32f).
  for (int y = 0; y < h; ++y) {
    const uint8_t* g = grey.ptr<uint8_t>(y);
    float* __restrict e = ext.data();
    // The interior converted in one vectorised loop, the 4 reflected pixels each side apart (a
    // reflect per pixel was 40 % of the blur's time).
    for (int x = 0; x < w; ++x) e[x + 4] = float(g[x]);
    for (int x = 1; x <= 4; ++x) e[4 - x] = float(g[reflect(-x, w)]), e[w + 3 + x] = float(g[reflect(w - 1 + x, w)]);
    float* __restrict r = rows.data() + size_t(y) * size_t(w);
    for (int x = 0; x < w; ++x) {
      float acc = 0.f;
      for (int k = 0; k < 9; ++k) acc = std::fma(e[x + k], taps[size_t(k)], acc);
      r[x] = acc;
    }
  }
  // Columns: the centre tap, then each symmetric pair of rows added first (SymmColumnVec_32f).
  out.create(h, w, CV_32F);
  for (int y = 0; y < h; ++y) {
    const float* c = rows.data() + size_t(y) * size_t(w);
    const float* up[5];
    const float* down[5];
    for (int k = 1; k <= 4; ++k) {
      up[k] = rows.data() + size_t(reflect(y - k, h)) * size_t(w);
      down[k] = rows.data() + size_t(reflect(y + k, h)) * size_t(w);
    }
    float* __restrict o = out.ptr<float>(y);
    for (int x = 0; x < w; ++x) {
      float acc = std::fma(c[x], taps[4], 0.f);
      for (int k = 1; k <= 4; ++k) acc = std::fma(down[k][x] + up[k][x], taps[size_t(4 + k)], acc);
      o[x] = acc;
    }
  }
}

QualityInput quality_input(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "quality_input: expects a CV_8UC3 image");
  QualityInput in;
  thread_local cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  // The luminance histogram counts the decode's grey on a regular grid of about 128 x 128 points
  // (every `step`-th pixel of every `step`-th row): percentiles of ~16k samples are within a grey
  // level or two of the whole decode's, and a highlight that makes a photo "not dark" covers many
  // grid points (area averaging, in contrast, would pull the tails in).
  const int step = sample_grid_step(rgb.cols, rgb.rows, kLumGridPoints);
  std::array<std::array<int64_t, 256>, 2> part{};
  for (int y = step / 2; y < grey.rows; y += step) {
    const uint8_t* row = grey.ptr<uint8_t>(y);
    int x = step / 2;
    for (; x + step < grey.cols; x += 2 * step) ++part[0][row[x]], ++part[1][row[x + step]];
    for (; x < grey.cols; x += step) ++part[0][row[x]];
  }
  for (int v = 0; v < 256; ++v) in.lum_hist[size_t(v)] = part[0][size_t(v)] + part[1][size_t(v)];
  const auto shrink = [&](int side) {
    return grey.cols >= side && grey.rows >= side ? shrink_area_grey(grey, side, side) : resize_area(grey, side, side);
  };
  in.grey = shrink(kQualityGreySide);
  in.sharpness_grey = shrink(kSharpnessGreySide);
  // The colour sample: the decode's own pixels on a coarser grid of the same kind (no averaging:
  // OpenCV's area resize with a factor of 3 alone cost 0.23 ms of a 12 MP photo's decode).
  const int cstep = sample_grid_step(rgb.cols, rgb.rows, kColorGridPoints);
  const int gw = (rgb.cols - cstep / 2 + cstep - 1) / cstep, gh = (rgb.rows - cstep / 2 + cstep - 1) / cstep;
  in.color.create(gh, gw, CV_8UC3);
  for (int gy = 0; gy < gh; ++gy) {
    const cv::Vec3b* src = rgb.ptr<cv::Vec3b>(cstep / 2 + gy * cstep) + cstep / 2;
    cv::Vec3b* dst = in.color.ptr<cv::Vec3b>(gy);
    for (int gx = 0; gx < gw; ++gx) dst[gx] = src[size_t(gx) * size_t(cstep)];
  }
  return in;
}

int sample_grid_step(int cols, int rows, int points) {
  return std::max(1, int(std::sqrt(double(cols) * double(rows) / double(points))));
}

const std::array<const char*, kSharpnessDim>& sharpness_column_names() {
  static const std::array<const char*, kSharpnessDim> names = {"edge_reblur", "fine_noise"};
  return names;
}

SharpnessRow sharpness_measures(const QualityInput& in) {
  const cv::Mat& g = in.sharpness_grey;
  IRBIS_THROW_IF_NOT(g.type() == CV_8U && g.rows == kSharpnessGreySide && g.cols == kSharpnessGreySide,
                     Error, "sharpness_measures: expects quality_input's grey image");
  SharpnessRow s{};
  // Re-blur: a sharp edge loses a third of its slope to a 1 px blur, an edge already blurred over
  // a few pixels hardly any (Crete-Roffet et al. 2007 compare the image with itself the same way).
  // The blurred copy stays float: rounding it to grey levels would move the ratio near blurry's
  // threshold.
  thread_local cv::Mat reblurred;
  gaussian_blur_sigma1(g, reblurred);
  const float before = high_gradient(g, 2), after = high_gradient(reblurred, 2);
  s[kEdgeReblur] = before > 0.5f ? std::min(1.f, after / before) : 1.f;
  // Immerkaer's fast noise estimate: the mask [1 -2 1; -2 4 -2; 1 -2 1] cancels smooth content and
  // lines, leaving grain. Integer mask on integer grey, interior pixels: exact.
  int64_t abs_sum = 0;
  for (int y = 1; y < g.rows - 1; ++y) {
    const uint8_t *a = g.ptr<uint8_t>(y - 1), *b = g.ptr<uint8_t>(y), *c = g.ptr<uint8_t>(y + 1);
    int row_sum = 0;
    for (int x = 1; x < g.cols - 1; ++x) {
      const int r = (a[x - 1] + a[x + 1] + c[x - 1] + c[x + 1]) - 2 * (a[x] + b[x - 1] + b[x + 1] + c[x]) + 4 * b[x];
      row_sum += std::abs(r);
    }
    abs_sum += row_sum;
  }
  const double inner_area = double(g.rows - 2) * double(g.cols - 2);
  const double mean_abs = double(abs_sum) / inner_area;
  s[kFineNoise] = float(std::sqrt(M_PI / 2) * mean_abs / 6.0);
  return s;
}

SharpnessRow sharpness_measures(const cv::Mat& rgb) { return sharpness_measures(quality_input(rgb)); }

const std::array<const char*, kQualityDim>& quality_column_names() {
  static const std::array<const char*, kQualityDim> names = {
      "laplacian_var", "edge_ratio", "lum_p01", "lum_p05", "lum_p50", "lum_p95",       "lum_p99",
      "lum_mean",      "lum_std",    "entropy", "unique_colors", "colorfulness", "colored_fraction"};
  return names;
}

QualityRow quality_measures(const QualityInput& in) {
  IRBIS_THROW_IF_NOT(in.grey.type() == CV_8U && in.grey.rows == kQualityGreySide && in.grey.cols == kQualityGreySide &&
                         !in.color.empty() && in.color.type() == CV_8UC3,
                     Error, "quality_measures: expects quality_input's images");
  QualityRow q{};

  // Luminance from the decode's histogram.
  const auto& hist = in.lum_hist;
  int64_t n = 0;
  double lum_sum = 0, lum_sq = 0;
  for (int v = 0; v < 256; ++v) {
    n += hist[size_t(v)];
    lum_sum += double(v) * double(hist[size_t(v)]);
    lum_sq += double(v) * v * double(hist[size_t(v)]);
  }
  IRBIS_THROW_IF_NOT(n > 0, Error, "quality_measures: empty luminance histogram");
  const double dn = double(n);
  q[kLumP01] = histogram_percentile(hist, n, 0.01);
  q[kLumP05] = histogram_percentile(hist, n, 0.05);
  q[kLumP50] = histogram_percentile(hist, n, 0.50);
  q[kLumP95] = histogram_percentile(hist, n, 0.95);
  q[kLumP99] = histogram_percentile(hist, n, 0.99);
  const double mean = lum_sum / dn;
  q[kLumMean] = float(mean / 255.0);
  q[kLumStd] = float(std::sqrt(std::max(0.0, lum_sq / dn - mean * mean)) / 255.0);
  double entropy = 0;
  for (int64_t c : hist)
    if (c > 0) {
      const double p = double(c) / dn;
      entropy -= p * std::log2(p);
    }
  q[kEntropy] = float(entropy);

  // Colour from the small colour image (at most 128 x 128 pixels): distinct colours,
  // colourfulness moments, coloured pixels.
  std::bitset<32768> colours;
  int64_t sum_rg = 0, sum_yb2 = 0, coloured = 0;
  double sq_rg = 0, sq_yb2 = 0;
  const cv::Mat& c = in.color;
  for (int y = 0; y < c.rows; ++y) {
    const uint8_t* p = c.ptr<uint8_t>(y);
    for (int x = 0; x < c.cols; ++x, p += 3) {
      const int r = p[0], g = p[1], b = p[2];
      colours.set(size_t(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)));
      const int rg = r - g, yb2 = r + g - 2 * b;  // yb2 = 2 yb: integers throughout
      sum_rg += rg;
      sum_yb2 += yb2;
      sq_rg += double(rg * rg);
      sq_yb2 += double(yb2 * yb2);
      if (std::max({r, g, b}) - std::min({r, g, b}) > 16) ++coloured;
    }
  }
  const double cn = double(c.total());
  q[kUniqueColors] = float(colours.count());
  const double m_rg = double(sum_rg) / cn, m_yb = 0.5 * double(sum_yb2) / cn;
  const double sd_rg = std::sqrt(std::max(0.0, sq_rg / cn - m_rg * m_rg));
  const double sd_yb = std::sqrt(std::max(0.0, 0.25 * sq_yb2 / cn - m_yb * m_yb));
  q[kColorfulness] = float(std::hypot(sd_rg, sd_yb) + 0.3 * std::hypot(m_rg, m_yb));
  q[kColoredFraction] = float(double(coloured) / cn);

  // Sharpness on the fixed-size grey image, so the decode's size does not change the scores.
  // Integer Laplacian of integer grey: exact.
  // cv::Laplacian(grey, CV_16S, 1)'s values (the 4-neighbour kernel, reflected borders: row -1 is
  // row 1) in one loop with their moments: cv::Laplacian's call cost more than its arithmetic.
  const cv::Mat& gq = in.grey;
  const int gw = gq.cols, gh = gq.rows;
  const auto reflect = [](int i, int n) { return i < 0 ? -i : i >= n ? 2 * n - 2 - i : i; };
  int64_t lap_sum = 0, lap_sq = 0;  // integer moments
  for (int y = 0; y < gh; ++y) {
    const uint8_t *a = gq.ptr<uint8_t>(reflect(y - 1, gh)), *b = gq.ptr<uint8_t>(y), *c = gq.ptr<uint8_t>(reflect(y + 1, gh));
    int32_t s = 0, sq = 0;  // per row: |lap| <= 1020, 128 * 1020^2 fits in 32 bits
    const auto add = [&](int x, int left, int right) {
      const int32_t v = int32_t(a[x]) + c[x] + b[left] + b[right] - 4 * int32_t(b[x]);
      s += v, sq += v * v;
    };
    add(0, 1, 1);
    for (int x = 1; x < gw - 1; ++x) add(x, x - 1, x + 1);
    add(gw - 1, gw - 2, gw - 2);
    lap_sum += s, lap_sq += sq;
  }
  const double lap_n = double(gq.total()), lap_mean = double(lap_sum) / lap_n;
  q[kLaplacianVar] = float(std::max(0.0, double(lap_sq) / lap_n - lap_mean * lap_mean));
  const cv::Mat coarse = resize_area(in.grey, kQualityGreySide / 2, kQualityGreySide / 2);
  const float g_fine = high_gradient(in.grey), g_coarse = high_gradient(coarse);
  // A flat image has no edges at either scale: ratio 0 (no evidence of sharp edges).
  q[kEdgeRatio] = g_coarse > 0.5f ? std::min(2.f, g_fine / g_coarse) : 0.f;
  return q;
}

QualityRow quality_measures(const cv::Mat& rgb) { return quality_measures(quality_input(rgb)); }

}  // namespace irbis

// irbis::quality_measures: sharpness, exposure, information and colour of one decoded image
// (docs/issues.md defines each column).
#include "irbis/quality.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

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
// dozen) are ordered; the square root is taken of that one value. An nth_element over all 64k
// values cost more than the rest of the quality measures together. The gradients and squares are
// kept in per-thread buffers: fresh 256 KB images each call were mostly page faults.
float high_gradient(const cv::Mat& grey) {
  thread_local cv::Mat gx, gy;
  thread_local std::vector<float> squares;
  const int ddepth = grey.depth() == CV_8U ? CV_16S : CV_32F;  // 8-bit: exact integers (|g| <= 1020)
  cv::Sobel(grey, gx, ddepth, 1, 0, 3);
  cv::Sobel(grey, gy, ddepth, 0, 1, 3);
  // Interior only: the border replication makes no edges of its own but keeps it simple to skip.
  const cv::Rect inner(2, 2, grey.cols - 4, grey.rows - 4);
  squares.resize(size_t(inner.area()));
  // |Sobel| <= 4 * 255 per axis: squares up to 2 * 1020^2 (exact in float for integer gradients).
  constexpr int kBins = 1024;
  constexpr float kMaxSquare = 2.f * 1020.f * 1020.f;
  constexpr float kScale = float(kBins) / kMaxSquare;
  const auto bin_of = [&](float v) { return std::min(kBins - 1, int(v * kScale)); };
  // Four interleaved histograms: most pixels fall in the lowest bins, and one histogram would make
  // each increment wait for the previous one to the same bin.
  std::array<std::array<int, kBins>, 4> part{};
  float* out = squares.data();
  for (int y = inner.y; y < inner.y + inner.height; ++y) {
    if (ddepth == CV_16S) {
      const int16_t *a = gx.ptr<int16_t>(y) + inner.x, *b = gy.ptr<int16_t>(y) + inner.x;
      for (int x = 0; x < inner.width; ++x) out[x] = float(int(a[x]) * a[x] + int(b[x]) * b[x]);
    } else {
      const float *a = gx.ptr<float>(y) + inner.x, *b = gy.ptr<float>(y) + inner.x;
      for (int x = 0; x < inner.width; ++x) out[x] = a[x] * a[x] + b[x] * b[x];
    }
    int x = 0;
    for (; x + 4 <= inner.width; x += 4)
      for (int j = 0; j < 4; ++j) ++part[size_t(j)][size_t(bin_of(out[x + j]))];
    for (; x < inner.width; ++x) ++part[0][size_t(bin_of(out[x]))];
    out += inner.width;
  }
  std::array<int, kBins> hist{};
  for (int b = 0; b < kBins; ++b) hist[size_t(b)] = part[0][size_t(b)] + part[1][size_t(b)] + part[2][size_t(b)] + part[3][size_t(b)];
  const size_t k = size_t(double(squares.size()) * 0.99);  // rank wanted (0-based), as nth_element had it
  size_t below = 0;
  int bin = 0;
  while (below + size_t(hist[size_t(bin)]) <= k) below += size_t(hist[size_t(bin++)]);
  std::vector<float> in_bin;
  in_bin.reserve(size_t(hist[size_t(bin)]));
  for (const float v : squares)
    if (bin_of(v) == bin) in_bin.push_back(v);
  const auto nth = in_bin.begin() + long(k - below);
  std::nth_element(in_bin.begin(), nth, in_bin.end());
  return std::sqrt(*nth) / 8.f;  // 1/8: a unit step reads 0.5 per pixel
}

}  // namespace

QualityInput quality_input(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "quality_input: expects a CV_8UC3 image");
  QualityInput in;
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  // The luminance histogram is the one statistic taken at the decode's resolution: area averaging
  // would pull in the percentiles' tails (a small highlight is what makes a photo not dark).
  const int channels[] = {0};
  const int bins[] = {256};
  const float range[] = {0, 256};
  const float* ranges[] = {range};
  cv::Mat hist;
  cv::calcHist(&grey, 1, channels, cv::Mat(), hist, 1, bins, ranges);
  for (int v = 0; v < 256; ++v) in.lum_hist[size_t(v)] = int64_t(hist.at<float>(v));
  in.grey = resize_area(grey, kQualityGreySide, kQualityGreySide);
  // The colour sample: k x k block means (OpenCV's integer-factor area path, a few hundredths of a
  // millisecond where a fractional area resize took a third), k = the largest side / 128 rounded
  // down, then a nearest-neighbour pick down to at most 128 a side. Its blocks cover most of the
  // decode (77-85 % of a 1 MP or 12 MP photo's), so the palette's 32 px image is nearly its area
  // average, while the statistics see pixels averaged over a few only.
  const int k = std::max(1, std::max(rgb.cols, rgb.rows) / kQualityColorSide);
  cv::Mat blocks = rgb;
  if (k > 1) {
    const cv::Mat whole_blocks = rgb(cv::Rect(0, 0, rgb.cols / k * k, rgb.rows / k * k));
    cv::resize(whole_blocks, blocks, cv::Size(rgb.cols / k, rgb.rows / k), 0, 0, cv::INTER_AREA);
  }
  const cv::Size color_size(std::min(blocks.cols, kQualityColorSide), std::min(blocks.rows, kQualityColorSide));
  if (color_size == blocks.size())
    in.color = blocks.data == rgb.data ? rgb.clone() : blocks;
  else
    cv::resize(blocks, in.color, color_size, 0, 0, cv::INTER_NEAREST);
  return in;
}

const std::array<const char*, kSharpnessDim>& sharpness_column_names() {
  static const std::array<const char*, kSharpnessDim> names = {"edge_reblur", "fine_noise"};
  return names;
}

SharpnessRow sharpness_measures(const QualityInput& in) {
  IRBIS_THROW_IF_NOT(in.grey.type() == CV_8U && in.grey.rows == kQualityGreySide && in.grey.cols == kQualityGreySide,
                     Error, "sharpness_measures: expects quality_input's grey image");
  SharpnessRow s{};
  // Re-blur: a sharp edge loses a third of its slope to a 1 px blur, an edge already blurred over
  // a few pixels hardly any (Crete-Roffet et al. 2007 compare the image with itself the same way).
  // The blurred copy stays float: rounding it to grey levels would move the ratio near blurry's
  // threshold.
  thread_local cv::Mat fine, reblurred, response;
  in.grey.convertTo(fine, CV_32F);
  cv::GaussianBlur(fine, reblurred, cv::Size(0, 0), 1.0);
  const float before = high_gradient(in.grey), after = high_gradient(reblurred);
  s[kEdgeReblur] = before > 0.5f ? std::min(1.f, after / before) : 1.f;
  // Immerkaer's fast noise estimate: the mask cancels smooth content and lines, leaving grain.
  // Integer mask on integer grey: exact in 16 bits (|response| <= 16 * 255).
  const cv::Mat mask = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
  cv::filter2D(in.grey, response, CV_16S, mask);
  const cv::Rect inner(1, 1, response.cols - 2, response.rows - 2);
  const double mean_abs = cv::norm(response(inner), cv::NORM_L1) / double(inner.area());
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
  thread_local cv::Mat lap;
  cv::Laplacian(in.grey, lap, CV_16S, 1);
  int64_t lap_sum = 0, lap_sq = 0;  // integer moments (cv::meanStdDev on 16-bit cost more than the rest)
  for (int y = 0; y < lap.rows; ++y) {
    const int16_t* row = lap.ptr<int16_t>(y);
    int32_t s = 0, sq = 0;  // per row: |lap| <= 1020, 256 * 1020^2 fits in 32 bits
    for (int x = 0; x < lap.cols; ++x) s += row[x], sq += int32_t(row[x]) * row[x];
    lap_sum += s, lap_sq += sq;
  }
  const double lap_n = double(lap.total()), lap_mean = double(lap_sum) / lap_n;
  q[kLaplacianVar] = float(std::max(0.0, double(lap_sq) / lap_n - lap_mean * lap_mean));
  const cv::Mat coarse = resize_area(in.grey, kQualityGreySide / 2, kQualityGreySide / 2);
  const float g_fine = high_gradient(in.grey), g_coarse = high_gradient(coarse);
  // A flat image has no edges at either scale: ratio 0 (no evidence of sharp edges).
  q[kEdgeRatio] = g_coarse > 0.5f ? std::min(2.f, g_fine / g_coarse) : 0.f;
  return q;
}

QualityRow quality_measures(const cv::Mat& rgb) { return quality_measures(quality_input(rgb)); }

}  // namespace irbis

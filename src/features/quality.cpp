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

// 99th percentile of the Sobel gradient magnitude (per pixel of that grey image), exact: a
// 1024-bin histogram of the magnitudes finds the bin holding the 99th percentile, and only that
// bin's values (a few dozen) are ordered. An nth_element over all 64k values cost more than the
// rest of the quality measures together.
float high_gradient(const cv::Mat& grey) {
  cv::Mat gx, gy, mag;
  cv::Sobel(grey, gx, CV_32F, 1, 0, 3, 0.125);  // 1/8: a unit step reads 0.5 per pixel
  cv::Sobel(grey, gy, CV_32F, 0, 1, 3, 0.125);
  cv::magnitude(gx, gy, mag);
  // Interior only: the border replication makes no edges of its own but keeps it simple to skip.
  const cv::Rect inner(2, 2, mag.cols - 4, mag.rows - 4);
  // Grey values are 0..255, so |gradient| <= 255 * sqrt(2) (1/8 of a 3x3 Sobel in each axis).
  constexpr int kBins = 1024;
  constexpr float kMaxMagnitude = 362.f;
  constexpr float kScale = float(kBins) / kMaxMagnitude;
  const auto bin_of = [&](float v) { return std::min(kBins - 1, int(v * kScale)); };
  std::array<int, kBins> hist{};
  for (int y = inner.y; y < inner.y + inner.height; ++y) {
    const float* row = mag.ptr<float>(y);
    for (int x = inner.x; x < inner.x + inner.width; ++x) ++hist[size_t(bin_of(row[x]))];
  }
  const size_t total = size_t(inner.area());
  const size_t k = size_t(double(total) * 0.99);  // rank wanted (0-based), as nth_element had it
  size_t below = 0;
  int bin = 0;
  while (below + size_t(hist[size_t(bin)]) <= k) below += size_t(hist[size_t(bin++)]);
  std::vector<float> in_bin;
  in_bin.reserve(size_t(hist[size_t(bin)]));
  for (int y = inner.y; y < inner.y + inner.height; ++y) {
    const float* row = mag.ptr<float>(y);
    for (int x = inner.x; x < inner.x + inner.width; ++x)
      if (bin_of(row[x]) == bin) in_bin.push_back(row[x]);
  }
  const auto nth = in_bin.begin() + long(k - below);
  std::nth_element(in_bin.begin(), nth, in_bin.end());
  return *nth;
}

// The area-resized grey image the sharpness measures share, as float.
cv::Mat grey_square(const cv::Mat& rgb) {
  cv::Mat grey, fine;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  resize_area(grey, kQualityGreySide, kQualityGreySide).convertTo(fine, CV_32F);
  return fine;
}

}  // namespace

const std::array<const char*, kSharpnessDim>& sharpness_column_names() {
  static const std::array<const char*, kSharpnessDim> names = {"edge_reblur", "fine_noise"};
  return names;
}

SharpnessRow sharpness_measures(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "sharpness_measures: expects a CV_8UC3 image");
  const cv::Mat fine = grey_square(rgb);
  SharpnessRow s{};
  // Re-blur: a sharp edge loses a third of its slope to a 1 px blur, an edge already blurred over
  // a few pixels hardly any (Crete-Roffet et al. 2007 compare the image with itself the same way).
  cv::Mat reblurred;
  cv::GaussianBlur(fine, reblurred, cv::Size(0, 0), 1.0);
  const float before = high_gradient(fine), after = high_gradient(reblurred);
  s[kEdgeReblur] = before > 0.5f ? std::min(1.f, after / before) : 1.f;
  // Immerkaer's fast noise estimate: the mask cancels smooth content and lines, leaving grain.
  const cv::Mat mask = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
  cv::Mat response;
  cv::filter2D(fine, response, CV_32F, mask);
  const double mean_abs = cv::mean(cv::abs(response(cv::Rect(1, 1, response.cols - 2, response.rows - 2))))[0];
  s[kFineNoise] = float(std::sqrt(M_PI / 2) * mean_abs / 6.0);
  return s;
}

const std::array<const char*, kQualityDim>& quality_column_names() {
  static const std::array<const char*, kQualityDim> names = {
      "laplacian_var", "edge_ratio", "lum_p01", "lum_p05", "lum_p50", "lum_p95",       "lum_p99",
      "lum_mean",      "lum_std",    "entropy", "unique_colors", "colorfulness", "colored_fraction"};
  return names;
}

QualityRow quality_measures(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "quality_measures: expects a CV_8UC3 image");
  QualityRow q{};

  // One pass over the decoded pixels: luminance histogram, colour set, colourfulness moments.
  std::array<int64_t, 256> hist{};
  std::bitset<32768> colours;
  double sum_rg = 0, sum_yb = 0, sq_rg = 0, sq_yb = 0, lum_sum = 0, lum_sq = 0;
  int64_t coloured = 0;
  const int64_t n = int64_t(rgb.total());
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = 0; x < rgb.cols; ++x, p += 3) {
      const int r = p[0], g = p[1], b = p[2];
      const int lum = (299 * r + 587 * g + 114 * b + 500) / 1000;
      ++hist[size_t(lum)];
      lum_sum += lum;
      lum_sq += double(lum) * lum;
      colours.set(size_t(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)));
      const double rg = r - g, yb = 0.5 * (r + g) - b;
      sum_rg += rg;
      sum_yb += yb;
      sq_rg += rg * rg;
      sq_yb += yb * yb;
      if (std::max({r, g, b}) - std::min({r, g, b}) > 16) ++coloured;
    }
  }
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
  q[kUniqueColors] = float(colours.count());
  const double m_rg = sum_rg / dn, m_yb = sum_yb / dn;
  const double sd_rg = std::sqrt(std::max(0.0, sq_rg / dn - m_rg * m_rg));
  const double sd_yb = std::sqrt(std::max(0.0, sq_yb / dn - m_yb * m_yb));
  q[kColorfulness] = float(std::hypot(sd_rg, sd_yb) + 0.3 * std::hypot(m_rg, m_yb));
  q[kColoredFraction] = float(double(coloured) / dn);

  // Sharpness on a fixed-size grey image, so the decode's size does not change the scores.
  cv::Mat grey, fine, coarse, lap;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  fine = resize_area(grey, kQualityGreySide, kQualityGreySide);
  cv::Laplacian(fine, lap, CV_32F, 1);
  cv::Scalar lm, ls;
  cv::meanStdDev(lap, lm, ls);
  q[kLaplacianVar] = float(ls[0] * ls[0]);
  coarse = resize_area(fine, kQualityGreySide / 2, kQualityGreySide / 2);
  const float g_fine = high_gradient(fine), g_coarse = high_gradient(coarse);
  // A flat image has no edges at either scale: ratio 0 (no evidence of sharp edges).
  q[kEdgeRatio] = g_coarse > 0.5f ? std::min(2.f, g_fine / g_coarse) : 0.f;
  return q;
}

}  // namespace irbis

// irbis::dominant_colors and the palette match of `irbis search --colors` (docs/colors.md).
#include "irbis/palette.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>

#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

namespace {

// CIE 1976 L*a*b* of an 8-bit sRGB colour (D65 white; L 0..100, a and b about -128..127), the
// definition OpenCV's float RGB2Lab implements. Written out because cv::cvtColor's float path cost
// half a millisecond for a 32x32 image (more than the k-means); agrees with it within 0.01
// (Palette.LabConversionMatchesOpenCV).
LabColor rgb_to_lab(int r, int g, int b) {
  static const std::array<double, 256> linear = [] {
    std::array<double, 256> t{};
    for (int v = 0; v < 256; ++v) {
      const double c = v / 255.0;
      t[size_t(v)] = c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    }
    return t;
  }();
  const double R = linear[size_t(r)], G = linear[size_t(g)], B = linear[size_t(b)];
  // sRGB -> XYZ, each row divided by the D65 white point's X, Y, Z.
  const double X = (0.412453 * R + 0.357580 * G + 0.180423 * B) / 0.950456;
  const double Y = 0.212671 * R + 0.715160 * G + 0.072169 * B;
  const double Z = (0.019334 * R + 0.119193 * G + 0.950227 * B) / 1.088754;
  const auto f = [](double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; };
  const double fy = f(Y);
  const double L = Y > 0.008856 ? 116.0 * fy - 16.0 : 903.3 * Y;
  return {float(L), float(500.0 * (f(X) - fy)), float(200.0 * (fy - f(Z)))};
}

// Width of the soft match: colours within ~20 Delta E read as "the same colour" to a person.
constexpr double kMatchDeltaE = 20.0;
// Centroids closer than this are one colour (a just-noticeable difference is about 2.3).
constexpr double kSameDeltaE = 2.0;

}  // namespace

PaletteRow dominant_colors(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "dominant_colors: expects a CV_8UC3 image");
  return dominant_colors(quality_input(rgb));
}

PaletteRow dominant_colors(const QualityInput& in) {
  const cv::Mat& rgb = in.color;
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "dominant_colors: expects quality_input's colour image");
  const cv::Mat small = resize_area(rgb, std::min(rgb.cols, kPaletteSide), std::min(rgb.rows, kPaletteSide));
  cv::Mat points(int(small.total()), 3, CV_32F);
  int i = 0;
  for (int y = 0; y < small.rows; ++y) {
    const uint8_t* p = small.ptr<uint8_t>(y);
    for (int x = 0; x < small.cols; ++x, p += 3, ++i) {
      const LabColor c = rgb_to_lab(p[0], p[1], p[2]);
      float* row = points.ptr<float>(i);
      row[0] = c.L, row[1] = c.a, row[2] = c.b;
    }
  }
  const int k = std::min<int>(kPaletteColors, points.rows);
  cv::Mat labels, centers;
  // cv::kmeans seeds from the calling thread's RNG: fix it so a palette does not depend on which
  // worker computed it or what ran before.
  cv::RNG& rng = cv::theRNG();
  const uint64_t saved = rng.state;
  rng.state = 0x1f3a5f;
  cv::kmeans(points, k, labels, cv::TermCriteria(cv::TermCriteria::COUNT | cv::TermCriteria::EPS, 10, 0.1), 1,
             cv::KMEANS_PP_CENTERS, centers);
  rng.state = saved;
  // Centroids, then merge those closer than kSameDeltaE (k-means splits a colour in two when an
  // image has fewer distinct colours than k), heaviest first.
  std::vector<PaletteColor> found;
  std::vector<int> count(static_cast<size_t>(k), 0);
  for (int i = 0; i < labels.rows; ++i) ++count[size_t(labels.at<int>(i))];
  for (int c = 0; c < k; ++c) {
    if (count[size_t(c)] == 0) continue;
    const PaletteColor pc{{centers.at<float>(c, 0), centers.at<float>(c, 1), centers.at<float>(c, 2)},
                          float(count[size_t(c)]) / float(labels.rows)};
    auto same = std::find_if(found.begin(), found.end(), [&](const PaletteColor& f) { return delta_e(f.lab, pc.lab) < kSameDeltaE; });
    if (same == found.end()) {
      found.push_back(pc);
      continue;
    }
    const float w = same->weight + pc.weight;
    same->lab = {(same->lab.L * same->weight + pc.lab.L * pc.weight) / w, (same->lab.a * same->weight + pc.lab.a * pc.weight) / w,
                 (same->lab.b * same->weight + pc.lab.b * pc.weight) / w};
    same->weight = w;
  }
  std::stable_sort(found.begin(), found.end(), [](const PaletteColor& x, const PaletteColor& y) { return x.weight > y.weight; });
  PaletteRow row{};
  for (size_t s = 0; s < found.size(); ++s) {
    row[4 * s] = found[s].lab.L, row[4 * s + 1] = found[s].lab.a, row[4 * s + 2] = found[s].lab.b;
    row[4 * s + 3] = found[s].weight;
  }
  return row;
}

std::vector<PaletteColor> palette_colors(const float* row) {
  std::vector<PaletteColor> out;
  for (int s = 0; s < kPaletteColors; ++s)
    if (row[4 * s + 3] > 0) out.push_back({{row[4 * s], row[4 * s + 1], row[4 * s + 2]}, row[4 * s + 3]});
  return out;
}

LabColor parse_hex_color(const std::string& text) {
  std::string h = text;
  h.erase(0, h.find_first_not_of(" \t"));
  h.erase(h.find_last_not_of(" \t") + 1);
  if (!h.empty() && h[0] == '#') h.erase(0, 1);
  const bool ok = h.size() == 6 && std::all_of(h.begin(), h.end(), [](char c) { return std::isxdigit(uint8_t(c)); });
  if (!ok) throw UsageError("'" + text + "' is not a colour: give #rrggbb in hexadecimal, e.g. #1f3a5f");
  const int v = std::stoi(h, nullptr, 16);
  return rgb_to_lab((v >> 16) & 255, (v >> 8) & 255, v & 255);
}

std::vector<LabColor> parse_hex_colors(const std::string& text) {
  std::vector<LabColor> out;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    out.push_back(parse_hex_color(part));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out.empty()) throw UsageError("no colour given: e.g. --colors '#1f3a5f,#ffffff'");
  return out;
}

std::string hex_color(const LabColor& c) {
  cv::Mat px(1, 1, CV_32FC3, cv::Scalar(c.L, c.a, c.b)), rgb;
  cv::cvtColor(px, rgb, cv::COLOR_Lab2RGB);
  const cv::Vec3f v = rgb.at<cv::Vec3f>(0, 0);
  char buf[8];
  const auto byte = [](float x) { return int(std::lround(std::clamp(x, 0.f, 1.f) * 255)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", byte(v[0]), byte(v[1]), byte(v[2]));
  return buf;
}

double delta_e(const LabColor& x, const LabColor& y) {
  return std::sqrt(double(x.L - y.L) * (x.L - y.L) + double(x.a - y.a) * (x.a - y.a) + double(x.b - y.b) * (x.b - y.b));
}

double palette_match(const std::vector<PaletteColor>& palette, const std::vector<LabColor>& query) {
  if (query.empty()) return 0;
  double log_sum = 0;
  for (const LabColor& q : query) {
    double share = 0;
    for (const PaletteColor& p : palette) {
      const double d = delta_e(q, p.lab) / kMatchDeltaE;
      share += p.weight * std::exp(-d * d);
    }
    log_sum += std::log(std::max(share, 1e-6));
  }
  return std::exp(log_sum / double(query.size()));
}

}  // namespace irbis

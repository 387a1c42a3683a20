// irbis::dominant_colors and the palette match of `irbis search --colors` (docs/colors.md).
#include "irbis/palette.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {

namespace {

// The sRGB transfer curve undone, per 8-bit value.
const std::array<double, 256>& srgb_linear() {
  static const std::array<double, 256> linear = [] {
    std::array<double, 256> t{};
    for (int v = 0; v < 256; ++v) {
      const double c = v / 255.0;
      t[size_t(v)] = c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
    }
    return t;
  }();
  return linear;
}

// Cube root of t >= 0 to double precision without libm's call (std::cbrt was a third of the
// palette's time, three calls per point): a float bit-trick estimate (within ~3 %), two Halley
// steps (error cubed each: 3e-2 -> 1e-5 -> 1e-15), then one Newton step with t - y^3 formed
// exactly (fused multiply-adds). Branch-free, so a loop of them vectorises. Within 3 ulp of
// std::cbrt; the Lab values, rounded to float, equal libm's for all but 95 of the 2^24 sRGB
// colours, and those by one float ulp (Palette.LabConversionIsLibmsInFloat).
inline double cube_root(double t) {
  const float f = float(t);
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  i = i / 3 + 709921077;  // the exponent divided by 3, the bias kept
  float g;
  std::memcpy(&g, &i, sizeof g);
  double y = double(g);
  const double y3 = y * y * y;
  y *= (y3 + 2.0 * t) / (2.0 * y3 + t);
  const double y3b = y * y * y;
  y *= (y3b + 2.0 * t) / (2.0 * y3b + t);
  const double y2 = y * y, y2_error = std::fma(y, y, -y2);
  const double rest = std::fma(-y2, y, t) - y2_error * y;  // t - y^3
  return y + rest / (3.0 * y2);
}

// CIE 1976 L*a*b* of n 8-bit sRGB colours (rgb: n x 3 bytes) into L, A, B (D65 white; L 0..100,
// a and b about -128..127), the definition OpenCV's float RGB2Lab implements. Written out because
// cv::cvtColor's float path cost half a millisecond for a 32x32 image (more than the k-means);
// agrees with it within 0.5 (Palette.LabConversionMatchesOpenCV). In arrays, so the cube roots
// of every colour are one vectorised loop.
void rgb_to_lab(const uint8_t* rgb, size_t n, float* L, float* A, float* B) {
  const auto& linear = srgb_linear();
  thread_local std::vector<double> xyz;  // X, Y, Z: n each
  xyz.resize(3 * n);
  double* __restrict X = xyz.data();
  double* __restrict Y = X + n;
  double* __restrict Z = Y + n;
  for (size_t i = 0; i < n; ++i) {
    const double R = linear[rgb[3 * i]], G = linear[rgb[3 * i + 1]], Bl = linear[rgb[3 * i + 2]];
    // sRGB -> XYZ, each row divided by the D65 white point's X, Y, Z.
    X[i] = (0.412453 * R + 0.357580 * G + 0.180423 * Bl) / 0.950456;
    Y[i] = 0.212671 * R + 0.715160 * G + 0.072169 * Bl;
    Z[i] = (0.019334 * R + 0.119193 * G + 0.950227 * Bl) / 1.088754;
  }
  // The cube roots of every X, Y, Z in a loop of their own (arithmetic only: it vectorises), then
  // f(t) and L, a, b (a choice per value: scalar, and cheap).
  thread_local std::vector<double> roots;  // of X, Y, Z: n each
  roots.resize(3 * n);
  const double* __restrict t = xyz.data();
  double* __restrict root = roots.data();
  for (size_t i = 0; i < 3 * n; ++i) root[i] = cube_root(t[i]);  // finite at 0 too (not used there)
  const auto f = [&](size_t i) { return t[i] > 0.008856 ? root[i] : 7.787 * t[i] + 16.0 / 116.0; };
  for (size_t i = 0; i < n; ++i) {
    const double fx = f(i), fy = f(n + i), fz = f(2 * n + i);
    L[i] = float(Y[i] > 0.008856 ? 116.0 * fy - 16.0 : 903.3 * Y[i]);
    A[i] = float(500.0 * (fx - fy));
    B[i] = float(200.0 * (fy - fz));
  }
}

LabColor rgb_to_lab(int r, int g, int b) {
  const uint8_t px[3] = {uint8_t(r), uint8_t(g), uint8_t(b)};
  LabColor c;
  rgb_to_lab(px, 1, &c.L, &c.a, &c.b);
  return c;
}

// Width of the soft match: colours within ~20 Delta E read as "the same colour" to a person.
constexpr double kMatchDeltaE = 20.0;
// Centroids closer than this are one colour (a just-noticeable difference is about 2.3).
constexpr double kSameDeltaE = 2.0;

// k-means (Lloyd) of Lab points: k-means++ seeding from a fixed-seed generator, so an image always
// gets the same palette whatever ran before on the thread; at most 10 passes, stopping when no
// centre moves by 0.1 Delta E. Written out because cv::kmeans cost 0.22 ms for 1024 points, more
// than every other quality measure together; this costs ~0.03 ms.
std::vector<std::array<float, 3>> seeded_kmeans(const std::vector<std::array<float, 3>>& pts, int k, std::vector<int>& labels) {
  const auto d2 = [](const std::array<float, 3>& x, const std::array<float, 3>& y) {
    const float a = x[0] - y[0], b = x[1] - y[1], c = x[2] - y[2];
    return a * a + b * b + c * c;
  };
  uint64_t state = 0x1f3a5f;
  const auto uniform = [&state] {  // splitmix64 -> [0, 1)
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return double((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
  };
  const size_t n = pts.size();
  std::vector<std::array<float, 3>> centers;
  std::vector<float> nearest(n, std::numeric_limits<float>::max());
  centers.push_back(pts[std::min(n - 1, size_t(uniform() * double(n)))]);
  while (int(centers.size()) < k) {
    double total = 0;
    for (size_t i = 0; i < n; ++i) total += nearest[i] = std::min(nearest[i], d2(pts[i], centers.back()));
    if (total <= 0) break;  // fewer distinct colours than k
    double r = uniform() * total;
    size_t pick = n - 1;
    for (size_t i = 0; i < n; ++i)
      if ((r -= nearest[i]) < 0) {
        pick = i;
        break;
      }
    centers.push_back(pts[pick]);
  }
  // Lloyd passes over the points in columns (L, a, b apart), so the distances to one centre are
  // one vectorised loop.
  std::vector<float> L(n), A(n), B(n), best_d(n);
  for (size_t i = 0; i < n; ++i) L[i] = pts[i][0], A[i] = pts[i][1], B[i] = pts[i][2];
  labels.assign(n, 0);
  for (int pass = 0; pass < 10; ++pass) {
    std::fill(best_d.begin(), best_d.end(), std::numeric_limits<float>::max());
    for (int c = 0; c < int(centers.size()); ++c) {
      const float cl = centers[size_t(c)][0], ca = centers[size_t(c)][1], cb = centers[size_t(c)][2];
      for (size_t i = 0; i < n; ++i) {
        const float dl = L[i] - cl, da = A[i] - ca, db = B[i] - cb;
        const float d = dl * dl + da * da + db * db;
        labels[i] = d < best_d[i] ? c : labels[i];
        best_d[i] = std::min(d, best_d[i]);
      }
    }
    // Four interleaved sums per centre, added at the end: one sum per centre made each point wait
    // for the previous point's store to the same centre (a fifth of the palette's time). Sums of
    // floats in double: the order moves them by rounding at most, and the centres are floats.
    std::vector<std::array<double, 4>> sum(centers.size(), {0, 0, 0, 0});
    std::vector<std::array<double, 4>> part(4 * centers.size(), {0, 0, 0, 0});
    for (size_t i = 0; i < n; ++i) {
      auto& s = part[4 * size_t(labels[i]) + (i & 3)];
      s[0] += L[i], s[1] += A[i], s[2] += B[i], s[3] += 1;
    }
    for (size_t c = 0; c < centers.size(); ++c)
      for (size_t j = 0; j < 4; ++j)
        for (size_t d = 0; d < 4; ++d) sum[c][d] += part[4 * c + j][d];
    float moved = 0;
    for (size_t c = 0; c < centers.size(); ++c) {
      if (sum[c][3] == 0) continue;  // an empty cluster keeps its centre (and gets no weight)
      const std::array<float, 3> m{float(sum[c][0] / sum[c][3]), float(sum[c][1] / sum[c][3]), float(sum[c][2] / sum[c][3])};
      moved = std::max(moved, d2(m, centers[c]));
      centers[c] = m;
    }
    if (moved < 0.01f) break;  // 0.1 Delta E
  }
  return centers;
}

}  // namespace

PaletteRow dominant_colors(const cv::Mat& rgb) {
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "dominant_colors: expects a CV_8UC3 image");
  return dominant_colors(quality_input(rgb));
}

PaletteRow dominant_colors(const QualityInput& in) {
  const cv::Mat& rgb = in.color;
  IRBIS_THROW_IF_NOT(!rgb.empty() && rgb.type() == CV_8UC3, Error, "dominant_colors: expects quality_input's colour image");
  // About kPaletteSamples of the sample's pixels, on a regular grid.
  const int step = std::max(1, int(std::sqrt(double(rgb.total()) / double(kPaletteSamples))));
  thread_local std::vector<uint8_t> sample;  // the grid's pixels, RGB
  sample.clear();
  for (int y = step / 2; y < rgb.rows; y += step) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    for (int x = step / 2; x < rgb.cols; x += step) sample.insert(sample.end(), p + 3 * x, p + 3 * x + 3);
  }
  const size_t n = sample.size() / 3;
  std::vector<float> L(n), A(n), B(n);
  rgb_to_lab(sample.data(), n, L.data(), A.data(), B.data());
  std::vector<std::array<float, 3>> points(n);
  for (size_t i = 0; i < n; ++i) points[i] = {L[i], A[i], B[i]};
  const int k = std::min<int>(kPaletteColors, int(points.size()));
  std::vector<int> labels;
  const std::vector<std::array<float, 3>> centers = seeded_kmeans(points, k, labels);
  // Centroids, then merge those closer than kSameDeltaE (k-means splits a colour in two when an
  // image has fewer distinct colours than k), heaviest first.
  std::vector<PaletteColor> found;
  std::vector<int> count(static_cast<size_t>(k), 0);
  for (const int l : labels) ++count[size_t(l)];
  for (int c = 0; c < k; ++c) {
    if (count[size_t(c)] == 0) continue;
    const auto& m = centers[size_t(c)];
    const PaletteColor pc{{m[0], m[1], m[2]}, float(count[size_t(c)]) / float(labels.size())};
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

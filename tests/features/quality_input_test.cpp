// The quality, sharpness and palette rows computed from the one shared small image (quality_input)
// against plain formulations of their definitions (docs/issues.md, docs/colors.md) on the decode
// `index` gives them, on real photos from Debian packages: the exact measures must agree to
// floating-point rounding, the sampled colour statistics within the stated tolerances.
#include <algorithm>
#include <bitset>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "irbis/hashes.h"
#include "irbis/image.h"
#include "irbis/palette.h"
#include "irbis/quality.h"
#include "test_util.h"

namespace irbis::test {
namespace {

std::vector<std::filesystem::path> debian_photos() {
  std::vector<std::filesystem::path> out;
  const std::string data = "/usr/share/doc/opencv-doc/examples/data/";
  for (const char* name : {"baboon.jpg", "fruits.jpg", "building.jpg", "messi5.jpg", "aero1.jpg", "orange.jpg",
                           "butterfly.jpg", "HappyFish.jpg", "board.jpg", "home.jpg", "lena.jpg", "apple.jpg"})
    if (std::filesystem::exists(data + name)) out.push_back(data + name);
  return out;
}

cv::Mat decode_for_index(const std::filesystem::path& p) {
  DecodeOptions o;
  o.min_side = kQualityMinSide;
  return decode_image(read_file(p), o).rgb;
}

// p99 of the Sobel magnitude (1/8 scale) by sorting every interior value (every stride-th of
// every stride-th row): the definition.
float reference_high_gradient(const cv::Mat& grey, int stride = 1) {
  cv::Mat f, gx, gy, mag;
  grey.convertTo(f, CV_32F);
  cv::Sobel(f, gx, CV_32F, 1, 0, 3, 0.125);
  cv::Sobel(f, gy, CV_32F, 0, 1, 3, 0.125);
  cv::magnitude(gx, gy, mag);
  std::vector<float> v;
  for (int y = 2; y < mag.rows - 2; y += stride)
    for (int x = 2; x < mag.cols - 2; x += stride) v.push_back(mag.at<float>(y, x));
  const auto nth = v.begin() + long(double(v.size()) * 0.99);
  std::nth_element(v.begin(), nth, v.end());
  return *nth;
}

TEST(QualityInput, ExactMeasuresMatchTheirDefinitionsOnPhotos) {
  const auto photos = debian_photos();
  ASSERT_GE(photos.size(), 8u) << "opencv-doc's example photos are needed";
  for (const auto& p : photos) {
    SCOPED_TRACE(p.string());
    const cv::Mat rgb = decode_for_index(p);
    const QualityInput in = quality_input(rgb);
    // The shared grey is the decode's grey, area-resized (rounded once: within one grey level).
    cv::Mat grey;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    EXPECT_LE(cv::norm(in.grey, resize_area(grey, kQualityGreySide, kQualityGreySide), cv::NORM_INF), 1);
    const QualityRow q = quality_measures(in);
    // Luminance over the grid's pixels: every step-th of every step-th row, from step / 2.
    const int step = sample_grid_step(grey.cols, grey.rows, kLumGridPoints);
    std::vector<uint8_t> lum;
    for (int y = step / 2; y < grey.rows; y += step)
      for (int x = step / 2; x < grey.cols; x += step) lum.push_back(grey.at<uint8_t>(y, x));
    // step = floor(sqrt(pixels / kLumGridPoints)): between kLumGridPoints and 4x that many points.
    EXPECT_GE(double(lum.size()), 0.9 * kLumGridPoints);
    EXPECT_LE(double(lum.size()), 4.2 * kLumGridPoints);
    std::sort(lum.begin(), lum.end());
    const auto pct = [&](double f) { return lum[std::min(lum.size() - 1, size_t(std::ceil(f * double(lum.size())) - 1))] / 255.f; };
    EXPECT_FLOAT_EQ(q[kLumP01], pct(0.01));
    EXPECT_FLOAT_EQ(q[kLumP50], pct(0.50));
    EXPECT_FLOAT_EQ(q[kLumP99], pct(0.99));
    cv::Mat lum_mat(lum, false);
    cv::Scalar mean, sd;
    cv::meanStdDev(lum_mat, mean, sd);
    EXPECT_NEAR(q[kLumMean], mean[0] / 255, 1e-5);
    EXPECT_NEAR(q[kLumStd], sd[0] / 255, 1e-5);
    // Laplacian variance (float Laplacian) and the gradient percentiles (sorting every value).
    cv::Mat lap, fine;
    in.grey.convertTo(fine, CV_32F);
    cv::Laplacian(fine, lap, CV_32F, 1);
    cv::meanStdDev(lap, mean, sd);
    EXPECT_NEAR(q[kLaplacianVar], sd[0] * sd[0], 1e-4 * sd[0] * sd[0]);
    const float g_fine = reference_high_gradient(in.grey);
    const float g_coarse = reference_high_gradient(resize_area(in.grey, kQualityGreySide / 2, kQualityGreySide / 2));
    EXPECT_NEAR(q[kEdgeRatio], std::min(2.f, g_fine / g_coarse), 1e-5);
    // Sharpness, on its own 192 px grey: re-blur ratio (p99s on every other pixel of every other
    // row) and Immerkaer's noise in float.
    EXPECT_LE(cv::norm(in.sharpness_grey, resize_area(grey, kSharpnessGreySide, kSharpnessGreySide), cv::NORM_INF), 1);
    const SharpnessRow s = sharpness_measures(in);
    cv::Mat reblurred, response;
    in.sharpness_grey.convertTo(fine, CV_32F);
    cv::GaussianBlur(fine, reblurred, cv::Size(0, 0), 1.0);
    EXPECT_NEAR(s[kEdgeReblur], std::min(1.f, reference_high_gradient(reblurred, 2) / reference_high_gradient(in.sharpness_grey, 2)), 1e-5);
    const cv::Mat mask = (cv::Mat_<float>(3, 3) << 1, -2, 1, -2, 4, -2, 1, -2, 1);
    cv::filter2D(fine, response, CV_32F, mask);
    const double mean_abs = cv::mean(cv::abs(response(cv::Rect(1, 1, response.cols - 2, response.rows - 2))))[0];
    EXPECT_NEAR(s[kFineNoise], std::sqrt(M_PI / 2) * mean_abs / 6.0, 1e-4);
  }
}

// The grid's luminance estimates the whole decode's: percentiles within 2 grey levels (a
// highlight that makes a photo "not dark" covers many grid points), mean and contrast within 1 %.
// The shared greys as the per-pixel area average (each output pixel the weighted sum of the
// source pixels it covers, rows first, then columns, rounded once): the stored quality and
// sharpness rows of version 2 came from this loop, and the tap-major column pass that replaced it
// must give the same grey levels, so no stored row changes (decodes of several sizes, one of them
// an odd shape, and a size seen twice: the cached taps).
cv::Mat reference_shrink(const cv::Mat& grey, int w, int h) {
  const auto taps = [](int src, int dst) {
    std::vector<std::pair<int, std::vector<float>>> t(static_cast<size_t>(dst));
    const double scale = double(src) / double(dst);
    for (int o = 0; o < dst; ++o) {
      const double a = o * scale, b = (o + 1) * scale;
      t[size_t(o)].first = int(std::floor(a));
      for (int i = t[size_t(o)].first; i < src && double(i) < b; ++i)
        t[size_t(o)].second.push_back(float((std::min(b, double(i + 1)) - std::max(a, double(i))) / scale));
    }
    return t;
  };
  const auto ty = taps(grey.rows, h), tx = taps(grey.cols, w);
  std::vector<float> rows(size_t(h) * size_t(grey.cols), 0.f);
  for (int oy = 0; oy < h; ++oy)
    for (size_t k = 0; k < ty[size_t(oy)].second.size(); ++k)
      for (int x = 0; x < grey.cols; ++x)
        rows[size_t(oy) * size_t(grey.cols) + size_t(x)] +=
            ty[size_t(oy)].second[k] * float(grey.at<uint8_t>(ty[size_t(oy)].first + int(k), x));
  cv::Mat out(h, w, CV_8U);
  for (int oy = 0; oy < h; ++oy)
    for (int ox = 0; ox < w; ++ox) {
      float v = 0;
      for (size_t k = 0; k < tx[size_t(ox)].second.size(); ++k)
        v += tx[size_t(ox)].second[k] * rows[size_t(oy) * size_t(grey.cols) + size_t(tx[size_t(ox)].first) + k];
      out.at<uint8_t>(oy, ox) = cv::saturate_cast<uint8_t>(v);
    }
  return out;
}

TEST(QualityInput, ShrinkIsThePerPixelAreaAverage) {
  const auto photos = debian_photos();
  ASSERT_GE(photos.size(), 4u) << "opencv-doc's example photos are needed";
  std::vector<cv::Mat> decodes;
  for (size_t i = 0; i < 4; ++i) decodes.push_back(decode_for_index(photos[i]));
  decodes.push_back(decodes[0](cv::Rect(3, 1, 251, 237)).clone());  // odd sides
  decodes.push_back(decode_for_index(photos[0]));                   // taps made before
  // Sources of every width the column pass handles apart: one, two or three to four source vectors
  // of 8 per group of 8 outputs, and more (gathered; the per-output loop without AVX2), among them
  // the 1/8 decodes of 12 MP and 50 MP photos.
  for (const cv::Size size : {cv::Size(200, 200), cv::Size(230, 229), cv::Size(400, 300), cv::Size(500, 375),
                              cv::Size(1000, 750), cv::Size(1087, 725)}) {
    cv::Mat resized;
    cv::resize(decodes[1], resized, size, 0, 0, cv::INTER_LINEAR);
    decodes.push_back(resized);
  }
  for (const cv::Mat& rgb : decodes) {
    SCOPED_TRACE(std::to_string(rgb.cols) + "x" + std::to_string(rgb.rows));
    ASSERT_GE(std::min(rgb.cols, rgb.rows), kSharpnessGreySide);
    cv::Mat grey;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    const QualityInput in = quality_input(rgb);
    // The luminance histogram is of cvtColor's grey too.
    std::array<int64_t, 256> hist{};
    const int step = sample_grid_step(rgb.cols, rgb.rows, kLumGridPoints);
    for (int y = step / 2; y < grey.rows; y += step)
      for (int x = step / 2; x < grey.cols; x += step) ++hist[grey.at<uint8_t>(y, x)];
    EXPECT_EQ(in.lum_hist, hist);
    EXPECT_EQ(cv::norm(in.grey, reference_shrink(grey, kQualityGreySide, kQualityGreySide), cv::NORM_INF), 0);
    EXPECT_EQ(cv::norm(in.sharpness_grey, reference_shrink(grey, kSharpnessGreySide, kSharpnessGreySide), cv::NORM_INF), 0);
  }
}

// The re-blur is OpenCV's Gaussian on the float grey, value for value (so edge_reblur keeps its
// stored values), on the sharpness greys of photos and on an odd-sized image.
TEST(QualityInput, ReblurIsOpenCvsGaussian) {
  const auto photos = debian_photos();
  ASSERT_GE(photos.size(), 4u) << "opencv-doc's example photos are needed";
  std::vector<cv::Mat> greys;
  for (size_t i = 0; i < photos.size(); ++i) greys.push_back(quality_input(decode_for_index(photos[i])).sharpness_grey);
  cv::Mat odd;
  cv::cvtColor(decode_for_index(photos[0])(cv::Rect(0, 0, 37, 23)), odd, cv::COLOR_RGB2GRAY);
  greys.push_back(odd);
  for (const cv::Mat& g : greys) {
    SCOPED_TRACE(std::to_string(g.cols) + "x" + std::to_string(g.rows));
    cv::Mat f, want, got;
    g.convertTo(f, CV_32F);
    cv::GaussianBlur(f, want, cv::Size(0, 0), 1.0);
    gaussian_blur_sigma1(g, got);
    ASSERT_EQ(got.type(), CV_32F);
    EXPECT_EQ(cv::norm(got, want, cv::NORM_INF), 0);
  }
}

TEST(QualityInput, GridLuminanceEstimatesTheWholeDecode) {
  for (const auto& p : debian_photos()) {
    SCOPED_TRACE(p.string());
    const cv::Mat rgb = decode_for_index(p);
    const QualityRow q = quality_measures(quality_input(rgb));
    cv::Mat grey;
    cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
    std::vector<uint8_t> lum(grey.begin<uint8_t>(), grey.end<uint8_t>());
    std::sort(lum.begin(), lum.end());
    const auto pct = [&](double f) { return lum[std::min(lum.size() - 1, size_t(std::ceil(f * double(lum.size())) - 1))] / 255.f; };
    EXPECT_NEAR(q[kLumP01], pct(0.01), 2.5 / 255);
    EXPECT_NEAR(q[kLumP05], pct(0.05), 2.5 / 255);
    EXPECT_NEAR(q[kLumP50], pct(0.50), 2.5 / 255);
    EXPECT_NEAR(q[kLumP95], pct(0.95), 2.5 / 255);
    EXPECT_NEAR(q[kLumP99], pct(0.99), 2.5 / 255);
    cv::Scalar mean, sd;
    cv::meanStdDev(grey, mean, sd);
    EXPECT_NEAR(q[kLumMean], mean[0] / 255, 0.01);
    EXPECT_NEAR(q[kLumStd], sd[0] / 255, 0.01);
  }
}

// The colour statistics come from a sample of about 64 x 64 of the decode's pixels: they
// estimate the whole decode's. Tolerances: colourfulness within 8 % (+0.5), coloured fraction
// within 0.04; distinct colours are counted in the sample, so only bounded by the whole's count.
TEST(QualityInput, SampledColourStatisticsEstimateTheWholeDecode) {
  for (const auto& p : debian_photos()) {
    SCOPED_TRACE(p.string());
    const cv::Mat rgb = decode_for_index(p);
    const QualityRow q = quality_measures(quality_input(rgb));
    double s_rg = 0, s_yb = 0, q_rg = 0, q_yb = 0, coloured = 0;
    std::bitset<32768> colours;
    for (auto it = rgb.begin<cv::Vec3b>(); it != rgb.end<cv::Vec3b>(); ++it) {
      const int r = (*it)[0], g = (*it)[1], b = (*it)[2];
      const double rg = r - g, yb = 0.5 * (r + g) - b;
      s_rg += rg, s_yb += yb, q_rg += rg * rg, q_yb += yb * yb;
      coloured += std::max({r, g, b}) - std::min({r, g, b}) > 16;
      colours.set(size_t(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)));
    }
    const double n = double(rgb.total()), m_rg = s_rg / n, m_yb = s_yb / n;
    const double whole = std::hypot(std::sqrt(q_rg / n - m_rg * m_rg), std::sqrt(q_yb / n - m_yb * m_yb)) +
                         0.3 * std::hypot(m_rg, m_yb);
    EXPECT_NEAR(q[kColorfulness], whole, 0.08 * whole + 0.5);
    EXPECT_NEAR(q[kColoredFraction], coloured / n, 0.04);
    EXPECT_GE(q[kUniqueColors], 1.f);
    EXPECT_LE(q[kUniqueColors], float(colours.count()));
  }
}

// How far palette a's colours are from palette b's, weighted by a's weights (Delta E).
double palette_distance(const std::vector<PaletteColor>& a, const std::vector<PaletteColor>& b) {
  double sum = 0;
  for (const PaletteColor& x : a) {
    double nearest = 1e9;
    for (const PaletteColor& y : b) nearest = std::min(nearest, delta_e(x.lab, y.lab));
    sum += x.weight * nearest;
  }
  return sum;
}

// The palette from the shared colour sample against the palette of the decode itself (about
// kPaletteSamples of its own pixels on a grid). k-means moves a
// centroid by several Delta E when its input changes slightly (so do the area-resized 128 px image
// and the decode, 0.2 median / 9 max on these photos); tolerance: median over the photos of the
// symmetric weighted distance below 6 Delta E, every photo below 15 (search's soft match is 20;
// both palettes cluster ~1024 single pixels, so k-means' own variance is most of the distance).
TEST(QualityInput, PaletteFromTheSampleMatchesThePaletteOfTheDecode) {
  std::vector<double> distances;
  for (const auto& p : debian_photos()) {
    SCOPED_TRACE(p.string());
    const cv::Mat rgb = decode_for_index(p);
    const auto shared = palette_colors(dominant_colors(quality_input(rgb)).data());
    QualityInput whole = quality_input(rgb);
    whole.color = rgb;  // dominant_colors takes its grid of kPaletteSamples from it
    const auto reference = palette_colors(dominant_colors(whole).data());
    ASSERT_FALSE(shared.empty());
    const double d = std::max(palette_distance(shared, reference), palette_distance(reference, shared));
    EXPECT_LT(d, 15.0);
    distances.push_back(d);
  }
  ASSERT_FALSE(distances.empty());
  std::sort(distances.begin(), distances.end());
  EXPECT_LT(distances[distances.size() / 2], 6.0);
}

// The Lab conversion's own cube root against libm's: on a grid of the RGB cube, the float L, a, b
// are libm's formula's bit for bit but for a handful of colours, and those within one float ulp
// (so palettes moved by rounding only: at most 5e-14 on the Debian photos' stored rows).
TEST(Palette, LabConversionIsLibmsInFloat) {
  const auto linear = [](int v) {
    const double c = v / 255.0;
    return c <= 0.04045 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
  };
  const auto f = [](double t) { return t > 0.008856 ? std::cbrt(t) : 7.787 * t + 16.0 / 116.0; };
  int differ = 0, colours = 0;
  for (int r = 0; r < 256; r += 3)
    for (int g = 0; g < 256; g += 3)
      for (int b = 0; b < 256; b += 3) {
        const double R = linear(r), G = linear(g), B = linear(b);
        const double X = (0.412453 * R + 0.357580 * G + 0.180423 * B) / 0.950456;
        const double Y = 0.212671 * R + 0.715160 * G + 0.072169 * B;
        const double Z = (0.019334 * R + 0.119193 * G + 0.950227 * B) / 1.088754;
        const float L = float(Y > 0.008856 ? 116.0 * f(Y) - 16.0 : 903.3 * Y);
        const float A = float(500.0 * (f(X) - f(Y))), Bb = float(200.0 * (f(Y) - f(Z)));
        char hex[8];
        std::snprintf(hex, sizeof hex, "#%02x%02x%02x", r, g, b);
        const LabColor mine = parse_hex_color(hex);
        ++colours;
        if (mine.L == L && mine.a == A && mine.b == Bb) continue;
        ++differ;
        ASSERT_LE(std::abs(mine.L - L), 1e-5f) << hex;
        ASSERT_LE(std::abs(mine.a - A), 1e-5f) << hex;
        ASSERT_LE(std::abs(mine.b - Bb), 1e-5f) << hex;
      }
  EXPECT_LE(differ, colours / 10000) << differ << " of " << colours << " colours differ";
}

// Queries (`search --colors`) and palettes share one sRGB -> Lab conversion: it agrees with
// OpenCV's float conversion within 0.5 Delta E (a just-noticeable difference is about 2.3; the
// largest, 0.3, in saturated blues, where OpenCV's approximated curves differ) on a 17-step grid of
// the RGB cube.
TEST(Palette, LabConversionMatchesOpenCV) {
  for (int r = 0; r < 256; r += 17)
    for (int g = 0; g < 256; g += 17)
      for (int b = 0; b < 256; b += 17) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "#%02x%02x%02x", r, g, b);
        const LabColor mine = parse_hex_color(hex);
        cv::Mat px(1, 1, CV_32FC3, cv::Scalar(r / 255.f, g / 255.f, b / 255.f)), lab;
        cv::cvtColor(px, lab, cv::COLOR_RGB2Lab);
        const cv::Vec3f v = lab.at<cv::Vec3f>(0, 0);
        ASSERT_LT(delta_e(mine, {v[0], v[1], v[2]}), 0.5) << hex;  // OpenCV approximates the curves
      }
}

}  // namespace
}  // namespace irbis::test

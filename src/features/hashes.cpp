// Perceptual hashes (pHash, dHash, aHash) and colour statistics. The exact definitions are in
// docs/features.md; keep the two in sync.
#include "irbis/hashes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <opencv2/core.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"

namespace irbis {
namespace {

// Differences smaller than this (in gray levels, 0..255 scale) are treated as ties. It only
// absorbs floating-point noise of the area resampler, so that a flat image gets a defined hash.
constexpr double kTieEps = 1e-3;

void check_input(const cv::Mat& img, const char* fn) {
  IRBIS_THROW_IF_NOT(!img.empty(), Error, std::string(fn) + ": empty image");
  IRBIS_THROW_IF_NOT(img.type() == CV_8UC3 || img.type() == CV_8UC1, Error,
                     std::string(fn) + ": expected an 8-bit RGB (or gray) image");
}

// ITU-R BT.601 luma on float: Y = 0.299 R + 0.587 G + 0.114 B, computed per pixel at full
// resolution, no rounding. An 8-bit single-channel input is taken as gray already.
cv::Mat gray_float(const cv::Mat& img) {
  cv::Mat gray(img.rows, img.cols, CV_32F);
  if (img.type() == CV_8UC1) {
    img.convertTo(gray, CV_32F);
    return gray;
  }
  for (int y = 0; y < img.rows; ++y) {
    const uint8_t* s = img.ptr<uint8_t>(y);
    float* d = gray.ptr<float>(y);
    for (int x = 0; x < img.cols; ++x, s += 3) d[x] = 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2];
  }
  return gray;
}

// Full-resolution float gray image reduced to (w, h) by area averaging, as CV_64F.
cv::Mat small_gray(const cv::Mat& gray, int w, int h) {
  cv::Mat small = resize_area(gray, w, h);
  cv::Mat out;
  small.convertTo(out, CV_64F);
  return out;
}

// The top-left 8x8 coefficients of the 2-D DCT-II (orthonormal) of the 32x32 area-reduced gray
// image, row-major, with values below kTieEps set to 0. Everything the pHash and its variants need.
using PhashBlock = std::array<double, 64>;

PhashBlock phash_block_of_gray(const cv::Mat& gray) {
  const cv::Mat g = small_gray(gray, 32, 32);
  cv::Mat coef;
  cv::dct(g, coef);  // 2-D DCT-II, orthonormal scaling (the scale does not change the bits)
  PhashBlock c;
  for (int y = 0; y < 8; ++y)
    for (int x = 0; x < 8; ++x) {
      const double v = coef.at<double>(y, x);
      c[y * 8 + x] = std::abs(v) < kTieEps ? 0.0 : v;
    }
  return c;
}

// Bits of an 8x8 block: coefficient > median of all 64 (DC included; mean of the 32nd and 33rd
// smallest), row-major, MSB first.
uint64_t phash_of_block(const PhashBlock& c) {
  PhashBlock sorted = c;
  std::nth_element(sorted.begin(), sorted.begin() + 32, sorted.end());
  const double upper = sorted[32];
  const double lower = *std::max_element(sorted.begin(), sorted.begin() + 32);
  const double median = 0.5 * (lower + upper);
  uint64_t h = 0;
  for (int i = 0; i < 64; ++i) h |= uint64_t(c[i] > median) << (63 - i);
  return h;
}

// The block of the image after a dihedral transform, from the original block. With C(u, v) the
// coefficient of vertical frequency u and horizontal frequency v of a 32x32 image g:
//   mirror (g(y, 31 - x))      -> (-1)^v C(u, v)     (cos(pi (2(31-x)+1) v / 64) = (-1)^v cos(...))
//   vertical flip (g(31 - y, x)) -> (-1)^u C(u, v)
//   transpose (g(x, y))        -> C(v, u)
// and every other element of the group is a composition: rotation by 90 degrees clockwise is the
// transpose mirrored, 180 degrees both flips, 270 the transpose flipped vertically.
PhashBlock transform_block(const PhashBlock& c, HashVariant v) {
  bool transpose = false, flip_x = false, flip_y = false;
  switch (v) {
    case HashVariant::identity: break;
    case HashVariant::mirror: flip_x = true; break;
    case HashVariant::flip_vertical: flip_y = true; break;
    case HashVariant::rotate_180: flip_x = flip_y = true; break;
    case HashVariant::transpose: transpose = true; break;
    case HashVariant::rotate_90: transpose = flip_x = true; break;
    case HashVariant::rotate_270: transpose = flip_y = true; break;
    case HashVariant::anti_transpose: transpose = flip_x = flip_y = true; break;
  }
  PhashBlock out;
  for (int u = 0; u < 8; ++u)
    for (int w = 0; w < 8; ++w) {
      double x = transpose ? c[w * 8 + u] : c[u * 8 + w];
      if ((flip_x && (w & 1)) != (flip_y && (u & 1))) x = -x;
      out[u * 8 + w] = x == 0.0 ? 0.0 : x;  // no -0.0: ties stay ties
    }
  return out;
}

uint64_t phash_of_gray(const cv::Mat& gray) { return phash_of_block(phash_block_of_gray(gray)); }

uint64_t dhash_of_gray(const cv::Mat& gray) {
  const cv::Mat g = small_gray(gray, 9, 8);
  uint64_t h = 0;
  for (int y = 0; y < 8; ++y) {
    const double* p = g.ptr<double>(y);
    for (int x = 0; x < 8; ++x) h |= uint64_t(p[x + 1] - p[x] > kTieEps) << (63 - (y * 8 + x));
  }
  return h;
}

uint64_t ahash_of_gray(const cv::Mat& gray) {
  const cv::Mat g = small_gray(gray, 8, 8);
  double mean = 0;
  for (int i = 0; i < 64; ++i) mean += g.at<double>(i / 8, i % 8);
  mean /= 64;
  uint64_t h = 0;
  for (int i = 0; i < 64; ++i) h |= uint64_t(g.at<double>(i / 8, i % 8) - mean > kTieEps) << (63 - i);
  return h;
}

}  // namespace

uint64_t phash(const cv::Mat& rgb) {
  check_input(rgb, "phash");
  return phash_of_gray(gray_float(rgb));
}

uint64_t dhash_mirrored(uint64_t dhash) {
  uint64_t out = 0;
  for (int y = 0; y < 8; ++y) {
    const unsigned row = unsigned(dhash >> (56 - 8 * y)) & 0xffu;  // bit 7 = column 0
    unsigned mirrored = 0;
    for (int x = 0; x < 8; ++x) mirrored |= ((row >> (7 - x)) & 1u) << x;  // column x -> column 7 - x
    out |= uint64_t(~mirrored & 0xffu) << (56 - 8 * y);
  }
  return out;
}

uint64_t dhash(const cv::Mat& rgb) {
  check_input(rgb, "dhash");
  return dhash_of_gray(gray_float(rgb));
}

uint64_t ahash(const cv::Mat& rgb) {
  check_input(rgb, "ahash");
  return ahash_of_gray(gray_float(rgb));
}

const char* hash_variant_name(HashVariant v) {
  switch (v) {
    case HashVariant::identity: return "identity";
    case HashVariant::mirror: return "mirror";
    case HashVariant::flip_vertical: return "flip-vertical";
    case HashVariant::rotate_180: return "rotate-180";
    case HashVariant::transpose: return "transpose";
    case HashVariant::rotate_90: return "rotate-90";
    case HashVariant::rotate_270: return "rotate-270";
    case HashVariant::anti_transpose: return "anti-transpose";
  }
  return "?";
}

std::array<uint64_t, kHashVariants> phash_variants(const cv::Mat& rgb) {
  check_input(rgb, "phash_variants");
  const PhashBlock block = phash_block_of_gray(gray_float(rgb));
  std::array<uint64_t, kHashVariants> out{};
  for (int v = 0; v < kHashVariants; ++v) out[size_t(v)] = phash_of_block(transform_block(block, HashVariant(v)));
  return out;
}

ImageHashes image_hashes(const cv::Mat& rgb) {
  check_input(rgb, "image_hashes");
  const cv::Mat gray = gray_float(rgb);
  const PhashBlock block = phash_block_of_gray(gray);
  ImageHashes h;
  for (int v = 0; v < kHashVariants; ++v) h.variants[size_t(v)] = phash_of_block(transform_block(block, HashVariant(v)));
  h.phash = h.variants[0];
  h.dhash = dhash_of_gray(gray);
  h.ahash = ahash_of_gray(gray);
  return h;
}

std::array<float, kColorStatsDim> color_stats(const cv::Mat& rgb) {
  check_input(rgb, "color_stats");
  const int cn = rgb.channels();
  uint64_t hist[kColorHistBins] = {};
  double sum[3] = {}, sq[3] = {};
  for (int y = 0; y < rgb.rows; ++y) {
    const uint8_t* p = rgb.ptr<uint8_t>(y);
    uint64_t rs[3] = {}, rq[3] = {};  // exact per-row integer sums
    for (int x = 0; x < rgb.cols; ++x, p += cn) {
      const unsigned r = p[0], g = p[cn == 3 ? 1 : 0], b = p[cn == 3 ? 2 : 0];
      ++hist[(r >> 6) * 16 + (g >> 6) * 4 + (b >> 6)];
      rs[0] += r; rs[1] += g; rs[2] += b;
      rq[0] += r * r; rq[1] += g * g; rq[2] += b * b;
    }
    for (int c = 0; c < 3; ++c) { sum[c] += double(rs[c]); sq[c] += double(rq[c]); }
  }
  const double n = double(rgb.total());
  std::array<float, kColorStatsDim> out{};
  for (int i = 0; i < kColorHistBins; ++i) out[i] = float(double(hist[i]) / n);
  for (int c = 0; c < 3; ++c) {
    const double mean = sum[c] / n;
    const double var = std::max(0.0, sq[c] / n - mean * mean);
    out[kColorHistBins + c] = float(mean / 255.0);
    out[kColorHistBins + 3 + c] = float(std::sqrt(var) / 255.0);
  }
  return out;
}

}  // namespace irbis

// The verifier's dense check: see dense_check.h.
#include "analysis/impl/dense_check.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include <opencv2/imgproc.hpp>

namespace irbis::impl {

namespace {

// A tile of A whose detail disagrees with B at the aligned place: is it found at a small shift in
// B (part of the picture moved), or nowhere near (new content, e.g. an overlay)?
struct ShiftedTile {
  int tx, ty;      // tile grid position
  float dx, dy;    // where its detail is found in warped B, half-size pixels
};

// Tiles that moved together: each has an 8-neighbour on the tile grid shifted by nearly the same
// vector. A subject or a camera moving between two shots moves whole regions; a copy's stray
// matches (repeated letters of a caption, periodic texture under a logo) are isolated.
int coherent_shifts(const std::vector<ShiftedTile>& s) {
  constexpr float kSameShift = 1.5f;  // half-size pixels
  int n = 0;
  for (size_t i = 0; i < s.size(); ++i)
    for (size_t j = 0; j < s.size(); ++j)
      if (i != j && std::abs(s[i].tx - s[j].tx) <= 1 && std::abs(s[i].ty - s[j].ty) <= 1 &&
          std::hypot(s[i].dx - s[j].dx, s[i].dy - s[j].dy) <= kSameShift) {
        ++n;
        break;
      }
  return n;
}

}  // namespace

cv::Mat detail(const cv::Mat& gray) {
  cv::Mat half, f, a, b;
  cv::resize(gray, half, cv::Size(std::max(1, gray.cols / 2), std::max(1, gray.rows / 2)), 0, 0, cv::INTER_AREA);
  half.convertTo(f, CV_32F);
  cv::GaussianBlur(f, a, cv::Size(0, 0), 1.0);
  cv::GaussianBlur(f, b, cv::Size(0, 0), 3.0);
  return a - b;
}

TileStats tile_stats(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask, const cv::Rect& r) {
  TileStats t;
  double sa = 0, sqa = 0, sb = 0, sqb = 0;
  for (int y = r.y; y < r.y + r.height; ++y) {
    const float* pa = a.ptr<float>(y) + r.x;
    const float* pb = b.ptr<float>(y) + r.x;
    const uint8_t* pm = mask.ptr<uint8_t>(y) + r.x;
    for (int x = 0; x < r.width; ++x)
      if (pm[x]) {
        const double va = pa[x], vb = pb[x];
        sa += va, sqa += va * va, sb += vb, sqb += vb * vb;
        ++t.count;
      }
  }
  if (!t.count) return t;
  const double scale = 1.0 / t.count;  // OpenCV multiplies by the reciprocal
  t.mean_a = sa * scale, t.mean_b = sb * scale;
  t.std_a = std::sqrt(std::max(sqa * scale - t.mean_a * t.mean_a, 0.0));
  t.std_b = std::sqrt(std::max(sqb * scale - t.mean_b * t.mean_b, 0.0));
  if (t.std_a == 0 || t.std_b == 0) return t;
  // As cv::add(tile, Scalar(-mean)) and cv::multiply compute it: the mean rounded to float, float
  // differences and products.
  const float ma = float(t.mean_a), mb = float(t.mean_b);
  double sab = 0;
  for (int y = r.y; y < r.y + r.height; ++y) {
    const float* pa = a.ptr<float>(y) + r.x;
    const float* pb = b.ptr<float>(y) + r.x;
    const uint8_t* pm = mask.ptr<uint8_t>(y) + r.x;
    for (int x = 0; x < r.width; ++x)
      if (pm[x]) {
        const float da = pa[x] - ma, db = pb[x] - mb;
        const float prod = da * db;
        sab += double(prod);
      }
  }
  t.correlation = sab * scale / (t.std_a * t.std_b);
  return t;
}

// Tiles, not one global correlation, so that a caption or a logo (a few tiles of new detail) does
// not refuse a copy, while a second viewpoint (detail misaligned all over) does: the share of
// textured tiles whose detail correlates (>= 0.5), and the overlap fraction of the smaller image.
// A disagreeing tile is then searched for within +-kShiftRadius in warped B (normalized
// cross-correlation): found (>= 0.8, and >= 0.1 above any other shift) at a shift of >= 2 px, its
// content moved; `moved_tiles` counts those that moved like a neighbour (docs/dupes.md).
DenseCheck dense_check(const cv::Mat& ga, const cv::Mat& gb, const cv::Mat& m) {
  DenseCheck out;
  cv::Mat mh = m.clone();  // half size: scale the translation
  mh.at<double>(0, 2) /= 2;
  mh.at<double>(1, 2) /= 2;
  const cv::Mat da = detail(ga), db = detail(gb);
  cv::Mat warped, mask;
  cv::warpAffine(db, warped, mh, da.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::Mat ones(db.size(), CV_8U, cv::Scalar(255));
  cv::warpAffine(ones, mask, mh, da.size(), cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::erode(mask, mask, cv::Mat(), cv::Point(-1, -1), 4);  // the DoG is wrong near the borders
  out.overlap = double(cv::countNonZero(mask)) / double(std::min(da.total(), db.total()));
  constexpr int kTile = 16;
  constexpr double kMinStd = 2.0;     // gray levels of detail: below, the tile is flat in one of them
  constexpr int kShiftRadius = 12;    // half-size pixels searched around a disagreeing tile
  constexpr double kFound = 0.8;      // correlation at which a shifted tile counts as found
  constexpr double kMinShift = 2.0;   // half-size pixels: below, a fit error rather than a motion
  constexpr double kUnique = 0.1;     // the best shift must beat any other (2+ px away) by this
  const cv::Rect image(0, 0, da.cols, da.rows);
  std::vector<ShiftedTile> shifted;
  int textured = 0, agree = 0;
  for (int y = 0; y + kTile <= da.rows; y += kTile)
    for (int x = 0; x + kTile <= da.cols; x += kTile) {
      const cv::Rect r(x, y, kTile, kTile);
      const TileStats t = tile_stats(da, warped, mask, r);
      if (t.count < kTile * kTile * 9 / 10) continue;
      if (t.std_a < kMinStd || t.std_b < kMinStd) continue;
      ++textured;
      if (t.correlation >= 0.5) {
        ++agree;
        continue;
      }
      ++out.changed_tiles;
      out.b_stronger += t.std_b > t.std_a;
      const cv::Rect win = cv::Rect(x - kShiftRadius, y - kShiftRadius, kTile + 2 * kShiftRadius,
                                    kTile + 2 * kShiftRadius) & image;
      cv::Mat ncc;
      cv::matchTemplate(warped(win), da(r), ncc, cv::TM_CCOEFF_NORMED);
      double best = 0, second = 0;
      cv::Point at;
      cv::minMaxLoc(ncc, nullptr, &best, nullptr, &at);
      const float dx = float(at.x + win.x - x), dy = float(at.y + win.y - y);
      if (best < kFound || std::hypot(dx, dy) < kMinShift) continue;
      // Found at one shift only: a periodic pattern (a chessboard, bricks) is found at every period.
      cv::rectangle(ncc, cv::Rect(at.x - 2, at.y - 2, 5, 5), cv::Scalar(-1), cv::FILLED);
      cv::minMaxLoc(ncc, nullptr, &second);
      if (best - second >= kUnique) shifted.push_back({x / kTile, y / kTile, dx, dy});
    }
  out.agreement = textured >= 4 ? double(agree) / textured : 0.0;
  out.moved_tiles = coherent_shifts(shifted);
  return out;
}

}  // namespace irbis::impl

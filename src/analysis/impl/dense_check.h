// The verifier's dense check (verify.cpp, docs/dupes.md "Geometric verification"): once a
// similarity transform is fitted, do the two images agree in detail, tile by tile, and did part of
// the picture move? Internal to src/analysis.
#pragma once
#include <opencv2/core.hpp>

namespace irbis::impl {

struct DenseCheck {
  double agreement = 0;  // share of textured tiles whose aligned detail correlates
  double overlap = 0;    // overlap / smaller image's area
  int moved_tiles = 0;   // disagreeing tiles whose detail is found shifted, like a neighbour's
  int changed_tiles = 0; // textured tiles whose aligned detail does not correlate
  int b_stronger = 0;    // of those, the tiles where B's detail is the stronger
};

// Warps detail(b) into a's frame by the a->b transform m (2x3, CV_64F, work-size pixels; a and b
// gray CV_8U at the work size) and compares it with detail(a) in 16x16 tiles at half the work size.
DenseCheck dense_check(const cv::Mat& ga, const cv::Mat& gb, const cv::Mat& m);

// Difference of Gaussians at half the work size (CV_32F): re-encoding noise and brightness
// changes drop out, misaligned structure does not.
cv::Mat detail(const cv::Mat& gray);

// One tile's statistics over the pixels where `mask` (CV_8U) is set, `a` and `b` CV_32F: the values
// cv::meanStdDev(a(r), mean, std, mask(r)) gives for each image, and the correlation as
// cv::mean((a(r) - mean_a) .* (b(r) - mean_b), mask(r)) / (std_a * std_b) computes it (float
// products, double sums, in the same order) — in one loop without OpenCV's per-call overhead
// (a trace region, temporaries and iterators per call: most of a dense check's CPU before).
struct TileStats {
  int count = 0;  // mask pixels in the tile
  double mean_a = 0, std_a = 0, mean_b = 0, std_b = 0;
  double correlation = 0;  // 0 when either std is 0
};
TileStats tile_stats(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask, const cv::Rect& r);

}  // namespace irbis::impl

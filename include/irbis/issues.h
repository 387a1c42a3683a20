// `irbis issues`: what is wrong with a collection, one row per (image, issue), from the stored
// quality measures (irbis/quality.h), the catalog's sizes, the duplicate groups and the CNN
// neighbourhood. Every threshold combines an absolute limit with the collection's own
// distribution (robust z-scores: median and MAD); docs/issues.md defines each one.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "irbis/collection.h"
#include "irbis/collection_analysis.h"
#include "irbis/model.h"
#include "irbis/search.h"

namespace irbis {

// In report order.
enum class IssueKind {
  blurry,
  dark,
  bright,
  low_information,
  grayscale,
  tiny,
  odd_aspect,
  low_jpeg_quality,
  odd_one_out,
  exact_duplicate,
  near_duplicate
};
const char* issue_name(IssueKind k);
const std::vector<IssueKind>& all_issue_kinds();

// The collection-relative part of a threshold: value = clamp(median +/- z * 1.4826 MAD, lo, hi)
// for the side the issue lies on; lo..hi are the absolute limits (never flag a sharp, well-lit
// photo; always flag a black one).
struct IssueParams {
  double z = 3.5;                         // robust z beyond which a measure is unusual for this collection
  // blurry (absolute: blur is the image's own property; calibrated in docs/issues.md):
  double blurry_reblur = 0.775;           // edge_reblur above (a 1 px blur hardly changes the edges)
  double blurry_noise = 0.69;             // ... and fine_noise below (no grain anywhere), grey levels
  double dark_lo = 0.25, dark_hi = 0.30;         // lum_p99 below
  double bright_lo = 0.70, bright_hi = 0.78;     // lum_p05 above
  double low_info_lo = 1.5, low_info_hi = 2.5;   // entropy (bits) below
  // Flat: lum_std / min(lum_mean, 1 - lum_mean) below this. Darkening or brightening scales the
  // spread and the headroom alike, so this contrast is what exposure leaves; a flat image is
  // low_information whatever its exposure, and dark / bright only when it is nearly black / white.
  double low_info_relative_contrast = 0.1;
  double flat_dark_mean = 0.05, flat_bright_mean = 0.95;  // a flat image is dark below / bright above this mean (nearly black / white)
  double grayscale_max = 1.0;             // colorfulness at or below (a grey JPEG: exactly 0)
  double tiny_lo = 32, tiny_hi = 128;     // sqrt(width x height) below clamp(0.3 x median, lo, hi)
  double odd_aspect_min = 2.5;            // long side / short side above max(this, robust fence)
  // JPEG quality factor (jpeg_quality) at or below clamp(median - z * scale, lo, hi): q <= 50 in a
  // collection of well-kept JPEGs, only the collection's own outliers and q <= 30 among JPEGs
  // that are all strongly compressed.
  double jpeg_quality_lo = 30, jpeg_quality_hi = 50;
  double odd_one_out = 4.0;               // combined score (see docs/issues.md) above
  int neighbours = 7;                     // k of the k-th-neighbour distance
  // Above the exact threshold, images whose score with the approximate neighbours exceeds
  // odd_one_out minus this get their neighbours searched exhaustively (docs/issues.md); < 0: none
  // (benchmarks of the path before).
  double odd_one_out_refine_margin = 0.5;
  // ... and then up to this many of them, highest approximate score first, get their k-th distance
  // from an exact search (one sgemm against every image): the self-join's exhaustive search runs
  // in its reduced space and can still miss a far image's neighbours (+47 % on one row of a
  // 100 000-image mixture). 0: none (benchmarks of the path before).
  int odd_one_out_exact_rows = 500;
  std::string model = kDefaultModel;      // embeddings for the neighbourhood (skipped when missing)
  // Given instead of searched: per image of CollectionIssues::records (live ok images with the
  // quality feature, id order) the distance to its k-th CNN neighbour, -1 for none. Benchmarks
  // score neighbours found elsewhere (exact ones computed once) through the same rules. Empty:
  // searched (below). Throws UsageError when the size is not the records'.
  std::vector<double> kth_distance;
  // How the neighbours are found (search.h): exact below index.hnsw_min_images images, the
  // self-join above; no HNSW graph is opened or built (benchmarks set open_graph and self_join to
  // time the per-row graph path).
  IndexOptions index = [] {
    IndexOptions o;
    o.open_graph = false;
    return o;
  }();
  DupesParams dupes;
};

struct ImageIssue {
  size_t image = 0;       // index into CollectionIssues::records
  IssueKind kind = IssueKind::blurry;
  double score = 0;       // the measure compared (docs/issues.md)
  double threshold = 0;   // this collection's threshold for it
  std::string reason;     // in words, e.g. "grayscale 28x28 among colour images of ~300 px"
};

struct IssueSummary {
  IssueKind kind = IssueKind::blurry;
  size_t images = 0;      // images with this issue
  double threshold = 0;
  std::string rule;       // "edge_ratio < 0.62 and laplacian_var < 120"
};

struct CollectionIssues {
  std::vector<ImageRecord> records;   // live ok images with the quality feature, id order
  std::vector<ImageIssue> issues;     // by kind (report order), then worst first
  std::vector<IssueSummary> summary;  // one per kind, report order
  bool used_embeddings = false;       // odd_one_out used the CNN neighbourhood
  // Per record: the distance (1 - cosine) to its k-th CNN neighbour that odd_one_out scored, -1
  // without one (benchmarks compare the neighbour paths by it; not part of the serialized answer).
  std::vector<double> kth_distance;
};

// Robust location and scale: median and 1.4826 x median absolute deviation (at least min_scale).
struct RobustStats {
  double median = 0, scale = 0;
  double z(double v) const { return (v - median) / scale; }
};
RobustStats robust_stats(std::vector<double> values, double min_scale);
// The statistics odd_one_out scores the distance to the k-th CNN neighbour against (robust z;
// entries < 0, images without neighbours, are left out).
RobustStats kth_distance_stats(const std::vector<double>& kth);

// Throws UsageError naming the index command when the collection has no quality feature.
CollectionIssues find_collection_issues(const Collection& coll, const IssueParams& params = {});

}  // namespace irbis

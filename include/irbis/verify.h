// Geometric verification of a candidate duplicate pair: do the pixels of two images correspond
// under one similarity transform (rotation, uniform scale, translation, optionally a mirror)?
// That is what every copy edit preserves (crop, resize, small rotation, mirror, re-encoding,
// overlays) and what look-alikes break (another object of the same kind, a moved subject, a
// second viewpoint). Method and calibration: docs/dupes.md ("Geometric verification").
#pragma once
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <opencv2/core.hpp>

namespace irbis {

struct VerifyParams {
  int work_side = 512;        // both images are resized so that their longest side is this
  int max_keypoints = 1000;   // ORB keypoints per image
  float ratio = 0.8f;         // Lowe's ratio test on the two nearest descriptors
  double ransac_px = 4.0;     // RANSAC reprojection threshold, pixels of the work size
  int min_inliers = 12;       // fewer consistent matches: not a copy
  double min_inlier_ratio = 0.2;  // inliers / ratio-test matches
  double min_agreement = 0.65;  // share of textured tiles whose aligned detail correlates
  double min_overlap = 0.15;  // overlap area / smaller image's area
  double max_scale = 5.0;     // the transform's scale must lie in [1/max_scale, max_scale]
  // More tiles than this whose detail is found shifted (2..12 px at half the work size), each like
  // a neighbour: part of the picture moved against the rest, which no copy edit does (another frame,
  // another viewpoint). Copies on the calibration set: <= 2; docs/dupes.md.
  int max_moved_tiles = 3;
  // Pasted content (a caption, a logo) is on one side: in the tiles that disagree, one image holds
  // the stronger detail. When at least min_changed_tiles disagree and neither image is the stronger
  // in min_changed_one_side of them, each image has content the other lacks: things moved far or
  // came and went (two frames of a static camera), not a copy. Copies on the calibration set:
  // <= 12 such tiles or >= 0.81 one-sided; docs/dupes.md.
  int min_changed_tiles = 14;
  double min_changed_one_side = 0.75;
};

struct GeometricMatch {
  bool same = false;      // the decision: a copy of the same picture
  int inliers = 0;        // keypoint matches consistent with the fitted transform
  int matches = 0;        // matches after the ratio test (of the orientation that won)
  bool mirrored = false;  // the transform includes a left-right flip
  double scale = 0, angle_deg = 0;
  double agreement = 0;   // share of textured tiles of the overlap whose aligned detail correlates
  double overlap = 0;     // overlap / smaller image's area
  int moved_tiles = 0;    // disagreeing tiles found shifted in the other image, like a neighbour
  int changed_tiles = 0;  // textured tiles of the overlap whose aligned detail does not correlate
  double changed_one_side = 1;  // share of those where the same image holds the stronger detail
  std::string reason;     // why it was refused ("" when same)
};

// Verifies two RGB (or gray) 8-bit images. Never throws for image content; throws irbis::Error
// for an empty or non-8-bit image.
GeometricMatch verify_geometry(const cv::Mat& a, const cv::Mat& b, const VerifyParams& params = {});

// Verification over items identified by index, with the keypoints of each image computed once
// (the mirrored image's only when a pair needs them) and each unordered pair verified once
// (results cached). `load` returns item i's image (RGB, any size; an empty Mat when it cannot be
// decoded: the pair is refused with that reason) and must be safe to call from several threads.
// All methods are thread-safe; verify_all and verify_image use OpenCV's worker threads.
class PairVerifier {
 public:
  using Loader = std::function<cv::Mat(uint32_t)>;
  explicit PairVerifier(Loader load, VerifyParams params = {}, size_t max_cached_images = 1024);
  ~PairVerifier();
  GeometricMatch verify(uint32_t a, uint32_t b);
  // Verifies these pairs in parallel (in chunks that fit the keypoint cache) and caches the
  // results, so that the verify() calls of a sequential decision loop find them ready.
  void verify_all(const std::vector<std::pair<uint32_t, uint32_t>>& pairs);
  // An image that is not one of the items (a new image of `irbis match`) against items, in
  // parallel: its keypoints once, the items' from the cache. Not cached by pair.
  std::vector<GeometricMatch> verify_image(const cv::Mat& image, const std::vector<uint32_t>& items);
  size_t pairs_verified() const;
  double seconds() const;  // wall time spent in verify, verify_all and verify_image (decode included)
  // Where the CPU goes (each thread's own CPU time, summed): per image, the decode at the work size
  // and its keypoints, once while it stays cached; per pair, matching, the fit and the dense check
  // (and the mirrored keypoints the first time a pair needs them).
  struct Stats {
    size_t images = 0;  // images loaded and their keypoints computed (a re-load after eviction counts again)
    double image_cpu_seconds = 0;
    size_t pairs = 0;   // pairs matched (verify_image's included)
    double pair_cpu_seconds = 0;
  };
  Stats stats() const;

  struct Features;  // keypoints and descriptors of one image, plain and (lazily) mirrored

 private:
  std::shared_ptr<Features> features(uint32_t i);
  GeometricMatch verify_uncached(uint32_t a, uint32_t b);
  Loader load_;
  VerifyParams params_;
  size_t max_cached_;
  mutable std::mutex mu_;  // guards the maps, the list, seconds_ and stats_
  // Keypoints per image, least recently used evicted first (lru_ front = most recent).
  std::list<uint32_t> lru_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<Features>, std::list<uint32_t>::iterator>> features_;
  std::map<std::pair<uint32_t, uint32_t>, GeometricMatch> cache_;
  double seconds_ = 0;
  Stats stats_;
};

}  // namespace irbis

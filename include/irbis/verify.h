// Geometric verification of a candidate duplicate pair: do the pixels of two images correspond
// under one similarity transform (rotation, uniform scale, translation, optionally a mirror)?
// That is what every copy edit preserves (crop, resize, small rotation, mirror, re-encoding,
// overlays) and what look-alikes break (another object of the same kind, a moved subject, a
// second viewpoint). Method and calibration: docs/dupes.md ("Geometric verification").
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

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
};

struct GeometricMatch {
  bool same = false;      // the decision: a copy of the same picture
  int inliers = 0;        // keypoint matches consistent with the fitted transform
  int matches = 0;        // matches after the ratio test (of the orientation that won)
  bool mirrored = false;  // the transform includes a left-right flip
  double scale = 0, angle_deg = 0;
  double agreement = 0;   // share of textured tiles of the overlap whose aligned detail correlates
  double overlap = 0;     // overlap / smaller image's area
  std::string reason;     // why it was refused ("" when same)
};

// Verifies two RGB (or gray) 8-bit images. Never throws for image content; throws irbis::Error
// for an empty or non-8-bit image.
GeometricMatch verify_geometry(const cv::Mat& a, const cv::Mat& b, const VerifyParams& params = {});

// Verification over items identified by index, with the keypoints of each image computed once
// and each unordered pair verified once (results cached). `load` returns item i's image (RGB,
// any size; an empty Mat when it cannot be decoded: the pair is refused with that reason).
class PairVerifier {
 public:
  using Loader = std::function<cv::Mat(uint32_t)>;
  explicit PairVerifier(Loader load, VerifyParams params = {}, size_t max_cached_images = 512);
  ~PairVerifier();
  GeometricMatch verify(uint32_t a, uint32_t b);
  size_t pairs_verified() const { return cache_.size(); }
  double seconds() const { return seconds_; }  // wall time spent in verify (decode included)

  struct Features;  // keypoints and descriptors of one image, plain and mirrored

 private:
  const Features& features(uint32_t i);
  Loader load_;
  VerifyParams params_;
  size_t max_cached_;
  std::map<uint32_t, std::shared_ptr<Features>> features_;
  std::map<std::pair<uint32_t, uint32_t>, GeometricMatch> cache_;
  double seconds_ = 0;
};

}  // namespace irbis

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
  // The mirrored orientation's keypoints: false = the plain keypoints mirrored and described on the
  // mirrored image (half the cost of detecting them), an acceptance then confirmed on keypoints
  // detected on the mirrored image; true = detected only (before 2026-12-05). Of the 1 430 labelled
  // pairs, one decision changes: a look-alike refused (docs/calibration.md, "Mirrored keypoints").
  bool detect_mirrored_keypoints = false;
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
  // The pixel check of a sure pair (compare_pixels): both images at this longest side, tone-matched,
  // compared in tiles of pixel_tile; the pair agrees when the 90th percentile of the tiles' mean
  // absolute difference is <= max_pixel_difference grey levels (the picture as a whole) and no
  // tile's exceeds max_tile_difference (no part of it: a small object moved, a logo). On the
  // Copydays-style set's sure pairs, re-encodes (q >= 30), grayscale and darkening stay below 2 and
  // 3; another frame of a static camera (a person moved) reaches 13-31 and 36-64, a 1 px motion of a
  // whole scene (rubberwhale) 3.7-4.3 and 6-8 (docs/calibration.md, "Sure pairs: the pixel check").
  int pixel_side = 128;
  int pixel_tile = 8;
  double max_pixel_difference = 3.0;
  double max_tile_difference = 16.0;
  // ... unless every tile above max_tile_difference lies in one box on two or three sides of the
  // picture (a caption banner, a corner logo) covering at most this share, and the tiles outside
  // it meet max_pixel_difference: an overlay, agreed.
  double max_overlay_share = 0.25;
  // The first test of PairVerifier (docs/dupes.md, "The first test"): both images at
  // first_test_side with first_test_keypoints ORB keypoints, ratio-test matches and the RANSAC
  // similarity fit in both orientations (ransac_px scaled to that side); a pair with fewer than
  // first_test_min_inliers inliers in either is refused before the work-size load, which an image
  // met only in refused pairs never pays. It only refuses: a pair that passes gets the full
  // verification, unchanged. first_test_side = 0: off (docs/calibration.md, "The first test").
  int first_test_side = 256;
  int first_test_keypoints = 500;
  int first_test_min_inliers = 5;
  // ORB's FAST threshold there (OpenCV's default 20 finds too few corners in a dark or soft copy
  // at 256 px: 0 inliers for some copies the full verification accepts).
  int first_test_fast_threshold = 7;
  // ORB's pyramid there: first_test_levels levels first_test_scale_factor apart (4 x 1.33 reaches
  // 2.35x; a crop keeping 30 % of the area is 1.83x), corners ranked by FAST's own score. A quarter
  // less CPU than OpenCV's 8 x 1.2 with Harris ranking, and the weakest accepted copy keeps more
  // inliers (docs/calibration.md, "The first test's pyramid and grey decode").
  int first_test_levels = 4;
  float first_test_scale_factor = 1.33f;
  // The first test pays only where it refuses: each image it looks at costs about what a work-size
  // load does, so on a collection of copies (most pairs pass) every image pays both stages. After
  // verify_all has first-tested first_test_sample pairs, a first test that refused fewer than
  // first_test_min_refused of them is switched off for the verifier's life (its results so far
  // stand). Where the switch falls depends only on the pairs asked, not on threads.
  int first_test_sample = 128;
  double first_test_min_refused = 0.3;
};

// A sure pair's pixel check (docs/dupes.md, "Sure pairs are looked at"): hashes and CNN
// descriptors cannot tell a copy from another frame of a static camera (same background, one
// object moved), pixels can. Same picture = the images, resized to one small size and
// tone-matched, agree in every part; otherwise the pair is not sure and goes to verify_geometry.
struct PixelCheck {
  bool agree = false;      // difference and largest within VerifyParams' limits
  double difference = -1;  // 90th percentile of the tiles' mean |a - b|, grey levels; -1 = not compared
  double largest = -1;     // the largest tile's mean |a - b| (same orientation)
  bool overlay = false;    // what differs is an overlay's box (VerifyParams::max_overlay_share)
  bool mirrored = false;   // the better orientation was the left-right flip
  std::string reason;      // why it could not be compared ("" otherwise)
};
// Compares two RGB or gray 8-bit images of any size, in both orientations (the better one counts:
// a CNN pair does not say whether it is mirrored). Throws irbis::Error for an empty or non-8-bit image.
PixelCheck compare_pixels(const cv::Mat& a, const cv::Mat& b, const VerifyParams& params = {});

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
//
// Memory: the first tier holds max_cached_images images whole (gray at the work size, ~200 KB
// at 512 x 384, plus keypoints and descriptors, ~60 KB per orientation). An image evicted from it
// keeps its keypoints and descriptors only (~60 KB, ~120 KB with the mirrored ones) in a second
// tier of at most keypoint_cache_bytes (0 = none), least recently used out first: met again (a
// later dry pass of `dupes`), it needs no new decode and ORB, and its gray is decoded again only if
// a pair needs the pixels (a dense check, the mirrored keypoints, a pixel check). An image evicted
// before its keypoints were computed (loaded for pixel checks only) keeps its gray there instead
// (~200 KB), so that a later pair needing its keypoints does not decode it again. Same results
// either way (docs/dupes.md, "What a verification costs").
class PairVerifier {
 public:
  using Loader = std::function<cv::Mat(uint32_t)>;
  static constexpr size_t kDefaultKeypointCacheBytes = size_t(1) << 30;
  static constexpr size_t kFirstTestCacheBytes = size_t(256) << 20;
  // The first test's greys kept until their image's mirrored orientation is described or not
  // needed (~49 KB each at 256 px; beyond this the least recent go, and are decoded again if needed).
  static constexpr size_t kFirstTestGrayBytes = size_t(96) << 20;
  explicit PairVerifier(Loader load, VerifyParams params = {}, size_t max_cached_images = 1024,
                        size_t keypoint_cache_bytes = kDefaultKeypointCacheBytes,
                        size_t first_test_gray_bytes = kFirstTestGrayBytes);
  ~PairVerifier();
  // The first test's images (VerifyParams::first_test_side): `load` decoding at a smaller size
  // (a JPEG's DCT scaling) makes them cheaper; without it the first test uses the loader's images.
  // Call before verifying.
  void set_first_test_loader(Loader load);
  GeometricMatch verify(uint32_t a, uint32_t b);
  // Verifies these pairs in parallel (in chunks that fit the keypoint cache) and caches the
  // results, so that the verify() calls of a sequential decision loop find them ready.
  void verify_all(const std::vector<std::pair<uint32_t, uint32_t>>& pairs);
  // An image that is not one of the items (a new image of `irbis match`) against items, in
  // parallel: its keypoints once, the items' from the cache. Not cached by pair.
  std::vector<GeometricMatch> verify_image(const cv::Mat& image, const std::vector<uint32_t>& items);
  // The pixel check (compare_pixels) of items a and b on the verifier's decodes (no keypoints are
  // computed for it), cached by unordered pair; check_all runs pairs in parallel and caches them;
  // check_image compares an image that is not an item with items (not cached by pair).
  PixelCheck check(uint32_t a, uint32_t b);
  void check_all(const std::vector<std::pair<uint32_t, uint32_t>>& pairs);
  std::vector<PixelCheck> check_image(const cv::Mat& image, const std::vector<uint32_t>& items);
  size_t pairs_verified() const;
  size_t pairs_checked() const;  // pixel checks run (check, check_all, check_image)
  double seconds() const;  // wall time spent in verify, verify_all and verify_image (decode included)
  // Where the CPU goes (each thread's own CPU time, summed): per image, the decode at the work size
  // and its keypoints, once while it stays cached; per pair, matching, the fit and the dense check
  // (and the mirrored keypoints the first time a pair needs them).
  struct Stats {
    size_t images = 0;  // images loaded and their keypoints computed (a re-load after eviction counts again)
    size_t keypoint_hits = 0;  // images met again in the keypoint tier: no decode (no ORB but for gray_hits)
    size_t gray_reloads = 0;   // of those, grays decoded again for a pair's pixels (CPU in image_cpu_seconds)
    size_t gray_hits = 0;      // of those, kept grays of images loaded for pixel checks only: described, not decoded
    double image_cpu_seconds = 0;
    size_t pairs = 0;   // pairs matched (verify_image's included)
    double pair_cpu_seconds = 0;
    // The first test (VerifyParams::first_test_side): its images (decode at its side, keypoints,
    // both orientations), its pairs, those it refused (never matched at the work size).
    size_t first_test_images = 0;
    double first_test_image_cpu_seconds = 0;  // mirrors included
    size_t first_test_mirrors = 0;         // images whose mirrored orientation a pair needed
    size_t first_test_mirror_reloads = 0;  // of those, greys decoded again (dropped by their budget)
    size_t first_test_pairs = 0, first_test_refused = 0;
    bool first_test_switched_off = false;  // by its refusal share after the sample
    double first_test_pair_cpu_seconds = 0;
  };
  Stats stats() const;
  double check_seconds() const;  // wall time spent in pixel checks (decode included)

  struct Features;  // keypoints and descriptors of one image, plain and (lazily) mirrored
  struct FirstFeatures;  // the first test's keypoints and descriptors of one image, both orientations
  struct FirstTest {  // one pair's first test: the better orientation's figures
    int inliers = 0, matches = 0;
    int keypoints = 0;  // the fewer of the two images' first-test keypoints
    bool mirrored = false;
    bool passed = true;
  };
  // The first test of items a and b (what verify runs before the full verification), cached by
  // unordered pair; passed without running when VerifyParams::first_test_side is 0.
  FirstTest first_test(uint32_t a, uint32_t b);

 private:
  std::shared_ptr<Features> features(uint32_t i, bool keypoints = true);
  GeometricMatch verify_uncached(uint32_t a, uint32_t b);
  // match_pair of two loaded images, its failure as the reason, its CPU counted in stats().
  GeometricMatch match_counted(Features& a, Features& b);
  PixelCheck check_uncached(uint32_t a, uint32_t b);
  std::shared_ptr<FirstFeatures> first_features(uint32_t i);
  // Describes image i's mirrored orientation for the first test, once (its grey kept or decoded again).
  // Returns the CPU seconds this call spent (0 when another described it).
  double first_mirror(uint32_t i, FirstFeatures& f);
  void drop_first_gray(FirstFeatures& f);  // with mu_ held
  static size_t first_feature_bytes(const FirstFeatures& f);
  FirstTest first_test_uncached(uint32_t a, uint32_t b);
  // Moves an image evicted from the first tier into the keypoint tier (called with mu_ held).
  void demote(uint32_t i, const std::shared_ptr<Features>& f);
  // demote's copy of a described image: its keypoints, and its gray to decode again on need.
  void demote_keypoints(uint32_t i, const Features& f, Features& c);
  static size_t keypoint_bytes(const Features& f);
  Loader load_;
  VerifyParams params_;
  size_t max_cached_;
  size_t keypoint_budget_;
  mutable std::mutex mu_;  // guards the maps, the list, the counters, the seconds and stats_
  // Keypoints per image, least recently used evicted first (lru_ front = most recent).
  std::list<uint32_t> lru_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<Features>, std::list<uint32_t>::iterator>> features_;
  // The keypoint tier: evicted images' keypoints and descriptors, no gray (demote).
  std::list<uint32_t> keypoint_lru_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<Features>, std::list<uint32_t>::iterator>> keypoints_;
  size_t keypoint_bytes_ = 0;
  std::map<std::pair<uint32_t, uint32_t>, GeometricMatch> cache_;
  std::map<std::pair<uint32_t, uint32_t>, PixelCheck> checks_;
  // The first test: its loader, its features by image (least recently used out first, at most
  // kFirstTestCacheBytes), its results by unordered pair.
  Loader first_load_;
  std::list<uint32_t> first_lru_;
  std::unordered_map<uint32_t, std::pair<std::shared_ptr<FirstFeatures>, std::list<uint32_t>::iterator>> first_features_;
  size_t first_bytes_ = 0;
  std::list<uint32_t> first_gray_lru_;  // images whose first-test grey is kept (front = most recent)
  size_t first_gray_bytes_ = 0, first_gray_budget_;
  std::map<std::pair<uint32_t, uint32_t>, FirstTest> first_tests_;
  bool first_test_off_ = false;  // switched off by its refusal share (VerifyParams::first_test_min_refused)
  size_t image_checks_ = 0;
  double seconds_ = 0, check_seconds_ = 0;
  Stats stats_;
};

}  // namespace irbis

// Geometric verification: ORB keypoints, ratio-test matches, a RANSAC similarity fit (plain and
// mirrored), then a dense check that the aligned images agree in detail. See docs/dupes.md.
#include "irbis/verify.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <vector>

#include <opencv2/calib3d.hpp>
#include <opencv2/features2d.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"
#include "analysis/impl/dense_check.h"
#include "analysis/impl/hamming_knn.h"

namespace irbis {

struct PairVerifier::Features {
  cv::Mat gray;  // work size, CV_8U (empty in a keypoint-only copy until reload_gray ran)
  cv::Size work_size;  // gray's size, also known while gray is not loaded
  // Which image of a pair is matched against the other (match_pair): the one decoded with fewer
  // pixels (the crop, the copy), then the smaller key of the work-size pixels.
  int64_t source_pixels = 0;
  uint64_t order_key = 0;
  // [0] plain, [1] of the mirrored image (the plain ones described on it, or detected on it with
  // VerifyParams::detect_mirrored_keypoints), [2] detected on the mirrored image to confirm an
  // acceptance made with [1] (match_features).
  std::vector<cv::KeyPoint> kp[3];
  cv::Mat desc[3];
  std::string error;
  std::once_flag gray_once;    // gray or error (PairVerifier's cache fills them once)
  std::once_flag plain_once;   // kp[0], desc[0]
  std::once_flag mirror_once;  // kp[1], desc[1]: only when a pair needs the mirrored orientation
  std::once_flag confirm_once; // kp[2], desc[2]: only when a pair is accepted with kp[1]
  // Set when plain_once / mirror_once finished (what a keypoint-only copy may take); gray_ready when
  // gray_once decoded the gray (what the copy of an image without keypoints keeps: demote).
  std::atomic<bool> plain_ready{false}, mirror_ready{false}, gray_ready{false};
  // A keypoint-only copy (PairVerifier's second tier: an image evicted from the first, its gray
  // dropped) decodes its gray again through this, once, when a pair needs the pixels: the dense
  // check, the mirrored keypoints if they were not computed yet, a pixel check. Empty otherwise.
  std::function<cv::Mat()> reload_gray;
  std::once_flag reload_once;
};

struct PairVerifier::FirstFeatures {
  // Which image of a pair goes first (as in match_pair): fewer decoded pixels, then the smaller key.
  int64_t source_pixels = 0;
  uint64_t order_key = 0;
  int width = 0;  // of the first test's grey
  // [0] plain, [1] the plain keypoints mirrored and described on the mirrored image; both in the
  // plain image's coordinates. Points only: the fit needs no more of a keypoint. [1] only once a
  // pair needs the mirrored orientation of this image (mirror_once): at 100 000, half never do.
  std::vector<cv::Point2f> pt[2];
  cv::Mat desc[2];
  // What describing the mirror needs, dropped once it is described: the plain keypoints and (under
  // the verifier's lock, within PairVerifier::kFirstTestGrayBytes) the grey; a grey dropped before
  // is decoded again (the same pixels).
  std::vector<cv::KeyPoint> kp;
  cv::Mat gray;
  bool gray_listed = false;  // in the verifier's list of kept greys (gray_at)
  std::list<uint32_t>::iterator gray_at;
  std::string error;
  size_t bytes = 0;  // counted in the cache's budget (set under the verifier's lock)
  std::once_flag once, mirror_once;
};

namespace {

// src at `size`: cv::resize's INTER_AREA when both sides shrink, through irbis' resize_area (the same
// bytes at a fifth of the CPU, a share of every image load: docs/dupes.md, "What a verification
// costs"), cv::resize with `grow` otherwise.
cv::Mat resized(const cv::Mat& src, cv::Size size, int grow) {
  if (size.width <= src.cols && size.height <= src.rows) return resize_area(src, size.width, size.height);
  cv::Mat out;
  cv::resize(src, out, size, 0, 0, grow);
  return out;
}

// Gray image with its longest side = side (area averaging when shrinking, linear when growing).
cv::Mat work_gray(const cv::Mat& img, int side) {
  IRBIS_THROW_IF_NOT(!img.empty(), Error, "verify: empty image");
  IRBIS_THROW_IF_NOT(img.depth() == CV_8U && (img.channels() == 1 || img.channels() == 3), Error,
                     "verify: expected an 8-bit RGB or gray image");
  cv::Mat gray;
  if (img.channels() == 3) cv::cvtColor(img, gray, cv::COLOR_RGB2GRAY);
  else gray = img;
  const double s = double(side) / std::max(gray.cols, gray.rows);
  const cv::Size size(std::max(1, int(std::lround(gray.cols * s))), std::max(1, int(std::lround(gray.rows * s))));
  return resized(gray, size, cv::INTER_LINEAR);
}

// A 64-bit FNV-1a of the work image's size and pixels: orders the two images of a pair the same way
// whichever way round they are given (see match_pair).
uint64_t pixels_key(const cv::Mat& gray) {
  uint64_t h = 1469598103934665603ull;
  const auto mix = [&h](uint64_t v) { h = (h ^ v) * 1099511628211ull; };
  mix(uint64_t(gray.rows)), mix(uint64_t(gray.cols));
  for (int y = 0; y < gray.rows; ++y) {
    const uint8_t* row = gray.ptr<uint8_t>(y);
    int x = 0;
    for (; x + 8 <= gray.cols; x += 8) {
      uint64_t v;
      std::memcpy(&v, row + x, 8);
      mix(v);
    }
    for (; x < gray.cols; ++x) mix(row[x]);
  }
  return h;
}

// The gray image of a keypoint-only copy, decoded again (the same pixels: decoding is
// deterministic); nothing for a full entry.
void ensure_gray(PairVerifier::Features& f) {
  if (f.reload_gray) std::call_once(f.reload_once, [&] { f.gray = f.reload_gray(); });
}

void detect_plain(PairVerifier::Features& f, const VerifyParams& p) {
  f.order_key = pixels_key(f.gray);
  cv::ORB::create(p.max_keypoints)->detectAndCompute(f.gray, cv::noArray(), f.kp[0], f.desc[0]);
}

// CPU seconds of the calling thread (the verifier's cost split: per image, per pair).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

// Keypoints detected on the mirror image of f's (ensured) grey, in the plain image's coordinates.
void detect_on_mirror(const PairVerifier::Features& f, const VerifyParams& p, std::vector<cv::KeyPoint>& kp, cv::Mat& desc) {
  cv::Mat mirrored;
  cv::flip(f.gray, mirrored, 1);
  cv::ORB::create(p.max_keypoints)->detectAndCompute(mirrored, cv::noArray(), kp, desc);
  for (auto& k : kp) k.pt.x = float(f.gray.cols - 1) - k.pt.x;
}

// The mirrored image's keypoints, in the plain image's coordinates. Computed on first use: a pair
// whose plain orientation is confirmed, or an image only ever compared as the first of a pair,
// never needs them. By default the plain keypoints, mirrored, are described on the mirrored image:
// FAST and the Harris score are symmetric under a flip and ORB's orientation (the intensity
// centroid) becomes 180 - angle, so only the descriptors (rBRIEF's pattern is not symmetric) need
// computing — about half the cost of detecting them again (docs/dupes.md, "What a verification costs").
void detect_mirrored(PairVerifier::Features& f, const VerifyParams& p) {
  std::call_once(f.mirror_once, [&] {
    ensure_gray(f);
    if (f.gray.empty()) return;
    if (p.detect_mirrored_keypoints) {
      detect_on_mirror(f, p, f.kp[1], f.desc[1]);
    } else {
      const float last_x = float(f.gray.cols - 1);
      f.kp[1] = f.kp[0];
      for (auto& k : f.kp[1]) {
        k.pt.x = last_x - k.pt.x;
        k.angle = 180.f - k.angle;
        if (k.angle < 0) k.angle += 360.f;
      }
      cv::Mat mirrored;
      cv::flip(f.gray, mirrored, 1);
      if (!f.kp[1].empty()) cv::ORB::create(p.max_keypoints)->compute(mirrored, f.kp[1], f.desc[1]);  // may drop keypoints at the border
      for (auto& k : f.kp[1]) k.pt.x = last_x - k.pt.x;
    }
    f.mirror_ready.store(true, std::memory_order_release);
  });
}

// Keypoints detected on the mirrored image (kp[2]), in the plain image's coordinates: what
// confirms a pair accepted in the mirrored orientation with the described ones (match_features).
void detect_mirrored_confirming(PairVerifier::Features& f, const VerifyParams& p) {
  std::call_once(f.confirm_once, [&] {
    ensure_gray(f);
    if (!f.gray.empty()) detect_on_mirror(f, p, f.kp[2], f.desc[2]);
  });
}

// One orientation of b against a: b's keypoint set `set` (0 plain, 1 or 2 mirrored: see Features),
// ratio-test matches, the RANSAC fit, then the dense check and the decision.
GeometricMatch match_orientation(PairVerifier::Features& a, PairVerifier::Features& b, int set, const VerifyParams& p) {
  const bool mirrored = set > 0;
  // BFMatcher(NORM_HAMMING).knnMatch(..., 2), match for match, at a fraction of its cost.
  const std::vector<std::vector<cv::DMatch>> knn = impl::knn2_hamming(a.desc[0], b.desc[set]);
  std::vector<cv::Point2f> pa, pb;
  for (const auto& m : knn)
    if (m.size() == 2 && m[0].distance < p.ratio * m[1].distance) {
      pa.push_back(a.kp[0][size_t(m[0].queryIdx)].pt);
      pb.push_back(b.kp[set][size_t(m[0].trainIdx)].pt);
    }
  GeometricMatch g;
  g.mirrored = mirrored;
  g.matches = int(pa.size());
  if (pa.size() < 3) {
    g.reason = "too few matches";
  } else if (int(pa.size()) < p.min_inliers) {
    // Inliers are a subset of the matches: the fit cannot reach min_inliers, so it is not run.
    g.reason = "too few consistent matches";
  } else {
    std::vector<uchar> in;
    // Fit in the plain frame of b: mirrored points are mapped back by x -> w-1-x, so the
    // transform from a to the mirrored b is a similarity, estimated as such.
    std::vector<cv::Point2f> pbm = pb;
    if (mirrored)
      for (auto& q : pbm) q.x = float(b.work_size.width - 1) - q.x;
    cv::Mat m = cv::estimateAffinePartial2D(pa, pbm, in, cv::RANSAC, p.ransac_px, 2000, 0.995, 10);
    g.inliers = int(std::count(in.begin(), in.end(), uchar(1)));
    if (!m.empty()) {
      g.scale = std::hypot(m.at<double>(0, 0), m.at<double>(1, 0));
      g.angle_deg = std::atan2(m.at<double>(1, 0), m.at<double>(0, 0)) * 180.0 / CV_PI;
      // The dense check (the costly step) only when the cheap checks before it in the list of
      // reasons below pass: a refusal stops early with the same reason.
      if (g.inliers >= p.min_inliers && double(g.inliers) >= p.min_inlier_ratio * g.matches &&
          g.scale >= 1.0 / p.max_scale && g.scale <= p.max_scale) {
        ensure_gray(a);
        ensure_gray(b);
        // A new buffer for the flip: b's gray is shared (cached, other threads) and stays as it is.
        cv::Mat gb;
        if (mirrored) cv::flip(b.gray, gb, 1);
        else gb = b.gray;
        const impl::DenseCheck d = impl::dense_check(a.gray, gb, m);
        g.agreement = d.agreement;
        g.overlap = d.overlap;
        g.moved_tiles = d.moved_tiles;
        g.changed_tiles = d.changed_tiles;
        g.changed_one_side = d.changed_tiles ? double(std::max(d.b_stronger, d.changed_tiles - d.b_stronger)) / d.changed_tiles : 1.0;
      }
    }
    if (m.empty() || g.inliers < p.min_inliers) g.reason = "too few consistent matches";
    else if (double(g.inliers) < p.min_inlier_ratio * g.matches) g.reason = "matches mostly inconsistent";
    else if (g.scale < 1.0 / p.max_scale || g.scale > p.max_scale) g.reason = "implausible scale";
    else if (g.overlap < p.min_overlap) g.reason = "too little overlap";
    else if (g.agreement < p.min_agreement) g.reason = "aligned detail differs";
    else if (g.moved_tiles > p.max_moved_tiles) g.reason = "part of the picture moved";
    else if (g.changed_tiles >= p.min_changed_tiles && g.changed_one_side < p.min_changed_one_side)
      g.reason = "content changed in both images";
    else g.same = true;
  }
  return g;
}

GeometricMatch match_features(PairVerifier::Features& a, PairVerifier::Features& b, const VerifyParams& p) {
  GeometricMatch best;
  best.reason = "no keypoints";
  if (a.desc[0].empty()) return best;
  for (int mirrored = 0; mirrored < 2; ++mirrored) {
    if (mirrored) detect_mirrored(b, p);
    if (b.desc[mirrored].empty()) continue;
    GeometricMatch g = match_orientation(a, b, mirrored, p);
    if (mirrored && g.same && !p.detect_mirrored_keypoints) {
      // The described keypoints found the mirror; the keypoints detected on the mirrored image
      // confirm it, and their evidence is reported. Most mirrored attempts are refusals (two
      // different photos), which never pay for the detection; a mirrored pair is accepted only
      // when both keypoint sets accept it (docs/calibration.md, "Mirrored keypoints").
      detect_mirrored_confirming(b, p);
      if (b.desc[2].empty()) {
        g = GeometricMatch{};
        g.mirrored = true;
        g.reason = "too few matches";
      } else {
        g = match_orientation(a, b, 2, p);
      }
    }
    const auto key = [](const GeometricMatch& x) { return std::make_tuple(x.same, x.agreement, x.inliers); };
    if (mirrored == 0 || key(g) > key(best)) best = g;
    if (best.same && !mirrored) break;  // the plain orientation suffices
  }
  if (best.same) best.reason.clear();
  return best;
}

// The same evidence whichever way round a pair is given (a, b or b, a; a query against an item or
// the item in `dupes`): the ratio test matches one image's keypoints against the other's and the
// dense check tiles the first image, so the image decoded with fewer pixels always goes first (a
// crop or a smaller copy: its tiles cover the shared content at the finer scale, so content that
// moved shows larger; it is also the order `dupes` and `match` mostly used on the calibration
// set: the smaller item index, i.e. edit/ before orig/, and the query), then the one with the
// smaller pixel key, and the transform is turned round for the caller. Before, the order came from the caller (item
// indices in `dupes`, query first in `match`), so one pair could give 50 inliers in one command and
// 483 in the other. The fit itself is repeatable: OpenCV's RANSAC seeds its own generator on every
// call (calib3d ptsetreg.cpp); the thread's generator is still set from the pair and restored, so
// that nothing here depends on what ran on the thread before, in any OpenCV build.
GeometricMatch match_pair(PairVerifier::Features& a, PairVerifier::Features& b, const VerifyParams& p) {
  const bool swap = std::make_pair(b.source_pixels, b.order_key) < std::make_pair(a.source_pixels, a.order_key);
  PairVerifier::Features& first = swap ? b : a;
  PairVerifier::Features& second = swap ? a : b;
  cv::RNG& rng = cv::theRNG();
  const uint64 saved = rng.state;
  rng.state = (first.order_key * 0x9E3779B97F4A7C15ull) ^ second.order_key;
  GeometricMatch g;
  try {
    g = match_features(first, second, p);
  } catch (...) {
    rng.state = saved;
    throw;
  }
  rng.state = saved;
  if (swap && g.scale > 0) {
    // second -> first: the inverse similarity. Plain: 1/s, -angle. Mirrored (a similarity onto
    // the flipped image): 1/s and the same angle, since F R(-t) F = R(t).
    g.scale = 1.0 / g.scale;
    if (!g.mirrored) g.angle_deg = -g.angle_deg;
  }
  return g;
}

cv::Ptr<cv::ORB> first_test_orb(const VerifyParams& p) {
  return cv::ORB::create(p.first_test_keypoints, p.first_test_scale_factor, p.first_test_levels, 31, 0, 2,
                         cv::ORB::FAST_SCORE, 31, p.first_test_fast_threshold);
}

// The first test's plain keypoints of one image (VerifyParams::first_test_side,
// first_test_keypoints); returns its grey, which describe_first_mirror needs.
cv::Mat compute_first_features(PairVerifier::FirstFeatures& f, const cv::Mat& img, const VerifyParams& p) {
  cv::Mat gray = work_gray(img, p.first_test_side);
  f.source_pixels = int64_t(img.total());
  f.order_key = pixels_key(gray);
  f.width = gray.cols;
  first_test_orb(p)->detectAndCompute(gray, cv::noArray(), f.kp, f.desc[0]);
  for (const auto& k : f.kp) f.pt[0].push_back(k.pt);
  return gray;
}

// The same keypoints mirrored and described on the mirrored grey (as detect_mirrored); takes kp
// (first_mirror empties it on every path).
void describe_first_mirror(PairVerifier::FirstFeatures& f, const cv::Mat& gray, const VerifyParams& p) {
  std::vector<cv::KeyPoint> kp = std::move(f.kp);
  if (kp.empty()) return;
  const float last_x = float(gray.cols - 1);
  for (auto& k : kp) {
    k.pt.x = last_x - k.pt.x;
    k.angle = 180.f - k.angle;
    if (k.angle < 0) k.angle += 360.f;
  }
  cv::Mat mirrored;
  cv::flip(gray, mirrored, 1);
  first_test_orb(p)->compute(mirrored, kp, f.desc[1]);  // may drop keypoints at the border
  for (const auto& k : kp) f.pt[1].emplace_back(last_x - k.pt.x, k.pt.y);
}

// One orientation of the first test (o: 0 plain, 1 mirrored): ratio-test matches of a against b
// and the inliers of the similarity fit, as match_orientation at the first test's side. With a
// threshold, fewer matches than it cannot pass and are not fitted (inliers = 0).
PairVerifier::FirstTest first_orientation(const PairVerifier::FirstFeatures& a, const PairVerifier::FirstFeatures& b,
                                          int o, const VerifyParams& p) {
  PairVerifier::FirstTest t;
  t.mirrored = o == 1;
  if (a.desc[0].empty() || b.desc[o].empty()) return t;
  std::vector<cv::Point2f> pa, pb;
  for (const auto& m : impl::knn2_hamming(a.desc[0], b.desc[o]))
    if (m.size() == 2 && m[0].distance < p.ratio * m[1].distance) {
      pa.push_back(a.pt[0][size_t(m[0].queryIdx)]);
      pb.push_back(b.pt[o][size_t(m[0].trainIdx)]);
    }
  t.matches = int(pa.size());
  if (pa.size() < 3 || t.matches < p.first_test_min_inliers) return t;
  if (o == 1)  // the fit onto the mirrored image, a similarity (match_orientation)
    for (auto& q : pb) q.x = float(b.width - 1) - q.x;
  std::vector<uchar> in;
  const double px = p.ransac_px * double(p.first_test_side) / double(p.work_side);
  if (!cv::estimateAffinePartial2D(pa, pb, in, cv::RANSAC, px, 2000, 0.995, 10).empty())
    t.inliers = int(std::count(in.begin(), in.end(), uchar(1)));
  return t;
}

// The first test of a pair: the better orientation's inliers against first_test_min_inliers. The
// same figures whichever way round (match_pair's order and generator seeding). mirror(f) describes
// f's mirrored orientation, before the second image's is first needed.
PairVerifier::FirstTest first_test_pair(const PairVerifier::FirstFeatures& a, const PairVerifier::FirstFeatures& b,
                                        const VerifyParams& p,
                                        const std::function<void(const PairVerifier::FirstFeatures&)>& mirror) {
  const bool swap = std::make_pair(b.source_pixels, b.order_key) < std::make_pair(a.source_pixels, a.order_key);
  const PairVerifier::FirstFeatures& first = swap ? b : a;
  const PairVerifier::FirstFeatures& second = swap ? a : b;
  cv::RNG& rng = cv::theRNG();
  const uint64 saved = rng.state;
  rng.state = (first.order_key * 0x9E3779B97F4A7C15ull) ^ second.order_key;
  PairVerifier::FirstTest best;
  try {
    for (int o = 0; o < 2; ++o) {
      if (o == 1) mirror(second);
      const PairVerifier::FirstTest t = first_orientation(first, second, o, p);
      if (o == 0 || std::tie(t.inliers, t.matches) > std::tie(best.inliers, best.matches)) best = t;
      if (p.first_test_min_inliers > 0 && best.inliers >= p.first_test_min_inliers) break;  // passed: the mirror changes nothing
    }
  } catch (...) {
    rng.state = saved;
    throw;
  }
  rng.state = saved;
  best.keypoints = int(std::min(a.pt[0].size(), b.pt[0].size()));
  best.passed = best.inliers >= p.first_test_min_inliers;
  return best;
}

// Pairs per parallel step of verify_all's first test: their images (at most two per pair, ~40 KB
// each with 500 keypoints) fit PairVerifier::kFirstTestCacheBytes.
constexpr size_t kFirstTestChunk = 2048;

GeometricMatch first_test_refusal(const PairVerifier::FirstTest& t, const VerifyParams& p) {
  GeometricMatch g;
  g.mirrored = t.mirrored;
  g.reason = "first test: " + std::to_string(t.inliers) + " consistent of " + std::to_string(t.matches) +
             " matches at " + std::to_string(p.first_test_side) + " px (fewer than " +
             std::to_string(p.first_test_min_inliers) + ")";
  return g;
}

// a's grey levels mapped onto b's by their cumulative histograms: a monotone tone curve
// (brightness, contrast, gamma, clipping, another grey conversion) leaves no difference.
cv::Mat tone_matched(const cv::Mat& a, const cv::Mat& b) {
  const auto cdf = [](const cv::Mat& m) {
    std::array<double, 256> c{};
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x) c[m.at<uint8_t>(y, x)] += 1;
    double sum = 0;
    for (double& v : c) v = (sum += v) / double(m.total());
    return c;
  };
  const std::array<double, 256> ca = cdf(a), cb = cdf(b);
  cv::Mat lut(1, 256, CV_8U);
  for (int v = 0; v < 256; ++v)
    lut.at<uint8_t>(v) = uint8_t(std::min<ptrdiff_t>(255, std::lower_bound(cb.begin(), cb.end(), ca[size_t(v)] - 1e-12) - cb.begin()));
  cv::Mat out;
  cv::LUT(a, lut, out);
  return out;
}

struct TileDifference {
  double p90 = 0, largest = 0;
  bool overlay = false;  // every tile above max_pixel_difference lies in one small corner or edge box
};

// The 90th percentile and the largest of the tile means of |a - b| (both gray, same size, a
// tone-matched to b), and whether the tiles that differ a lot have an overlay's shape: a caption
// banner or a logo is a box on the picture's edge or in a corner (touching two or three of its
// sides) over at most max_overlay_share of it, with everything else in place; a moved person is
// not on two sides.
TileDifference tile_difference(const cv::Mat& a, const cv::Mat& b, const VerifyParams& p) {
  const int tile = p.pixel_tile;
  cv::Mat fa, fb, d, tiles;
  a.convertTo(fa, CV_32F);
  b.convertTo(fb, CV_32F);
  // A little blur: re-encoding noise and resampling differences are finer than anything moved.
  cv::GaussianBlur(fa, fa, cv::Size(0, 0), 1.0);
  cv::GaussianBlur(fb, fb, cv::Size(0, 0), 1.0);
  cv::absdiff(fa, fb, d);
  const int tx = std::max(1, d.cols / tile), ty = std::max(1, d.rows / tile);
  cv::resize(d(cv::Rect(0, 0, std::min(d.cols, tx * tile), std::min(d.rows, ty * tile))), tiles, cv::Size(tx, ty), 0, 0, cv::INTER_AREA);
  TileDifference out;
  const auto p90 = [](std::vector<float> v) {
    if (v.empty()) return 0.0;
    const size_t k = std::min(v.size() - 1, size_t(std::ceil(0.9 * double(v.size()))) - 1);
    std::nth_element(v.begin(), v.begin() + ptrdiff_t(k), v.end());
    return double(v[k]);
  };
  const std::vector<float> all(tiles.begin<float>(), tiles.end<float>());
  out.p90 = p90(all);
  out.largest = *std::max_element(all.begin(), all.end());
  // The box of the tiles that differ a lot, and the rest in place.
  cv::Rect box;
  for (int y = 0; y < ty; ++y)
    for (int x = 0; x < tx; ++x)
      if (tiles.at<float>(y, x) > p.max_tile_difference) box = box.empty() ? cv::Rect(x, y, 1, 1) : box | cv::Rect(x, y, 1, 1);
  if (!box.empty()) {
    const int sides = (box.x == 0) + (box.y == 0) + (box.x + box.width == tx) + (box.y + box.height == ty);
    std::vector<float> rest;
    for (int y = 0; y < ty; ++y)
      for (int x = 0; x < tx; ++x)
        if (!box.contains(cv::Point(x, y))) rest.push_back(tiles.at<float>(y, x));
    out.overlay = sides >= 2 && sides < 4 && double(box.area()) <= p.max_overlay_share * double(tx * ty) &&
                  p90(rest) <= p.max_pixel_difference;
  }
  return out;
}

PixelCheck compare_gray(const cv::Mat& ga, const cv::Mat& gb, const VerifyParams& p) {
  // Both at a's shape (longest side pixel_side): a copy resized or re-encoded lines up pixel for
  // pixel; a crop or another aspect ratio does not, and goes to verification.
  const int side = std::max(p.pixel_side, p.pixel_tile);
  const double s = double(side) / std::max(ga.cols, ga.rows);
  const cv::Size size(std::max(1, int(std::lround(ga.cols * s))), std::max(1, int(std::lround(ga.rows * s))));
  const cv::Mat a = resized(ga, size, cv::INTER_AREA), b = resized(gb, size, cv::INTER_AREA);
  cv::Mat bm;
  cv::flip(b, bm, 1);
  PixelCheck out;
  // Each orientation as it is and tone-matched, the better counting: an overlay's dark banner
  // skews the histograms, so the tone map helps a brightness edit and hurts a caption.
  const auto better = [](const TileDifference& x, const TileDifference& y) {
    return (x.overlay && !y.overlay) || (x.overlay == y.overlay && std::tie(x.p90, x.largest) < std::tie(y.p90, y.largest));
  };
  const auto best_of = [&](const cv::Mat& other) {
    const TileDifference raw = tile_difference(a, other, p), toned = tile_difference(tone_matched(a, other), other, p);
    return better(toned, raw) ? toned : raw;
  };
  const TileDifference plain = best_of(b), mirrored = best_of(bm);
  out.mirrored = better(mirrored, plain);
  const TileDifference& d = out.mirrored ? mirrored : plain;
  out.difference = d.p90, out.largest = d.largest, out.overlay = d.overlay;
  out.agree = (out.difference <= p.max_pixel_difference && out.largest <= p.max_tile_difference) || out.overlay;
  return out;
}

using PairKey = std::pair<uint32_t, uint32_t>;

// One pair's answer from `cache`, else computed outside the lock and kept; the computing's wall
// time goes to `seconds`. (verify and check: the same caching, different answers.)
template <class Result, class Compute>
Result cached_pair(std::mutex& mu, std::map<PairKey, Result>& cache, double& seconds, uint32_t a, uint32_t b,
                   const Compute& compute) {
  const PairKey key = std::minmax(a, b);
  {
    std::lock_guard lk(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const auto t0 = std::chrono::steady_clock::now();
  Result r = compute(key.first, key.second);
  std::lock_guard lk(mu);
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return cache.emplace(key, std::move(r)).first->second;
}

// The pairs in an order where pairs sharing an image come together: breadth first over the graph
// whose edges are the pairs, each component from its smallest pair, an image's pairs in key order.
// Key order alone kept a pair's smaller image together, not its larger one, which the keypoint
// cache could evict between the chunks that met it (docs/dupes.md, "What a verification costs").
std::vector<PairKey> image_local_order(const std::vector<PairKey>& sorted_pairs) {
  std::unordered_map<uint32_t, std::vector<uint32_t>> pairs_of;  // image -> indices into sorted_pairs
  for (uint32_t k = 0; k < sorted_pairs.size(); ++k) {
    pairs_of[sorted_pairs[k].first].push_back(k);
    pairs_of[sorted_pairs[k].second].push_back(k);
  }
  std::vector<PairKey> out;
  out.reserve(sorted_pairs.size());
  std::vector<char> taken(sorted_pairs.size(), 0);
  std::unordered_map<uint32_t, char> image_seen;
  std::vector<uint32_t> queue;  // images, breadth first
  for (uint32_t start = 0; start < sorted_pairs.size(); ++start) {
    if (taken[start]) continue;
    queue.assign({sorted_pairs[start].first});
    image_seen[sorted_pairs[start].first] = 1;
    for (size_t q = 0; q < queue.size(); ++q)
      for (uint32_t k : pairs_of[queue[q]]) {  // ascending: the image's pairs in key order
        if (taken[k]) continue;
        taken[k] = 1;
        out.push_back(sorted_pairs[k]);
        const uint32_t other = sorted_pairs[k].first == queue[q] ? sorted_pairs[k].second : sorted_pairs[k].first;
        if (!image_seen[other]) image_seen[other] = 1, queue.push_back(other);
      }
  }
  return out;
}

// The pairs missing from `cache`, computed in parallel and kept: in chunks of `chunk` pairs whose
// images (at most two per pair) fit the keypoint cache, in image_local_order so that pairs sharing
// an image meet in one chunk or in neighbouring ones.
template <class Result, class Compute>
void cached_pairs(std::mutex& mu, std::map<PairKey, Result>& cache, double& seconds, size_t chunk,
                  const std::vector<PairKey>& pairs, const Compute& compute) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<PairKey> todo;
  {
    std::lock_guard lk(mu);
    for (const auto& [a, b] : pairs) {
      const PairKey key = std::minmax(a, b);
      if (!cache.count(key)) todo.push_back(key);
    }
  }
  std::sort(todo.begin(), todo.end());
  todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
  todo = image_local_order(todo);
  for (size_t start = 0; start < todo.size(); start += chunk) {
    const size_t end = std::min(todo.size(), start + chunk);
    std::vector<Result> got(end - start);
    cv::parallel_for_(cv::Range(int(start), int(end)), [&](const cv::Range& r) {
      for (int k = r.start; k < r.end; ++k) got[size_t(k) - start] = compute(todo[size_t(k)].first, todo[size_t(k)].second);
    });
    std::lock_guard lk(mu);
    for (size_t k = start; k < end; ++k) cache.emplace(todo[k], std::move(got[k - start]));
  }
  std::lock_guard lk(mu);
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

PixelCheck compare_pixels(const cv::Mat& a, const cv::Mat& b, const VerifyParams& params) {
  return compare_gray(work_gray(a, params.work_side), work_gray(b, params.work_side), params);
}

GeometricMatch verify_geometry(const cv::Mat& a, const cv::Mat& b, const VerifyParams& params) {
  PairVerifier::Features fa, fb;
  fa.gray = work_gray(a, params.work_side);
  fb.gray = work_gray(b, params.work_side);
  fa.work_size = fa.gray.size(), fb.work_size = fb.gray.size();
  fa.source_pixels = int64_t(a.total()), fb.source_pixels = int64_t(b.total());
  detect_plain(fa, params);
  detect_plain(fb, params);
  return match_pair(fa, fb, params);
}

PairVerifier::PairVerifier(Loader load, VerifyParams params, size_t max_cached_images, size_t keypoint_cache_bytes,
                           size_t first_test_gray_bytes)
    : load_(std::move(load)), params_(params), max_cached_(std::max<size_t>(2, max_cached_images)),
      keypoint_budget_(keypoint_cache_bytes), first_gray_budget_(first_test_gray_bytes) {}

PairVerifier::~PairVerifier() = default;

std::shared_ptr<PairVerifier::Features> PairVerifier::features(uint32_t i, bool keypoints) {
  std::shared_ptr<Features> f;
  {
    std::lock_guard lk(mu_);
    if (auto it = features_.find(i); it != features_.end()) {
      f = it->second.first;
      lru_.splice(lru_.begin(), lru_, it->second.second);  // most recently used first
    } else {
      // Bounded memory: the least recently used image goes (a kept image of `dupes` or a
      // collection image of `match` met again and again stays) to the keypoint tier. A caller
      // still holding an evicted entry keeps it alive.
      if (features_.size() >= max_cached_) {
        demote(lru_.back(), features_.at(lru_.back()).first);
        features_.erase(lru_.back());
        lru_.pop_back();
      }
      if (auto kt = keypoints_.find(i); kt != keypoints_.end()) {
        // Met again after its eviction (a later dry pass of `dupes`): its keypoints, not a new decode.
        f = kt->second.first;
        keypoint_bytes_ -= keypoint_bytes(*f);
        keypoint_lru_.erase(kt->second.second);
        keypoints_.erase(kt);
        ++stats_.keypoint_hits;
        if (!f->plain_ready.load(std::memory_order_relaxed)) ++stats_.gray_hits;
      } else {
        f = std::make_shared<Features>();
      }
      lru_.push_front(i);
      features_.emplace(i, std::make_pair(f, lru_.begin()));
    }
  }
  std::call_once(f->gray_once, [&] {
    const double t0 = thread_cpu_seconds();
    try {
      const cv::Mat img = load_(i);
      if (img.empty()) {
        f->error = "cannot decode";
      } else {
        f->gray = work_gray(img, params_.work_side);
        f->work_size = f->gray.size();
        f->source_pixels = int64_t(img.total());
        f->gray_ready.store(true, std::memory_order_release);
      }
    } catch (const std::exception& e) {
      f->error = e.what();
    }
    const double cpu = thread_cpu_seconds() - t0;
    std::lock_guard lk(mu_);
    ++stats_.images;
    stats_.image_cpu_seconds += cpu;
  });
  if (keypoints)
    std::call_once(f->plain_once, [&] {
      if (!f->error.empty()) return;
      const double t0 = thread_cpu_seconds();
      try {
        detect_plain(*f, params_);
      } catch (const std::exception&) {
        f->kp[0].clear(), f->desc[0].release();  // refused as "no keypoints" (error is read unlocked)
      }
      f->plain_ready.store(true, std::memory_order_release);
      const double cpu = thread_cpu_seconds() - t0;
      std::lock_guard lk(mu_);
      stats_.image_cpu_seconds += cpu;
    });
  return f;
}

size_t PairVerifier::keypoint_bytes(const Features& f) {
  size_t n = sizeof(Features) + 64 + f.gray.total() * f.gray.elemSize();  // a gray only when kept (demote)
  for (int o = 0; o < 3; ++o) n += f.kp[o].size() * sizeof(cv::KeyPoint) + f.desc[o].total() * f.desc[o].elemSize();
  return n;
}

void PairVerifier::demote(uint32_t i, const std::shared_ptr<Features>& f) {
  if (!keypoint_budget_) return;
  // A new object: the evicted one may still be in use (its gray, its mirrored keypoints being
  // computed) by a caller holding it.
  auto c = std::make_shared<Features>();
  if (!f->plain_ready.load(std::memory_order_acquire)) {
    // Loaded for pixel checks only (`dupes` runs check_all before verify_all): it keeps its gray, so
    // that a later pair needing its keypoints describes it without decoding it again.
    if (!f->gray_ready.load(std::memory_order_acquire)) return;  // not decodable, or still loading
    c->gray = f->gray;  // shared, never written again
    c->work_size = f->work_size;
    c->source_pixels = f->source_pixels;
    std::call_once(c->gray_once, [] {});
    c->gray_ready = true;
  } else {
    if (!f->error.empty()) return;
    c->work_size = f->work_size;
    c->source_pixels = f->source_pixels;
    demote_keypoints(i, *f, *c);
  }
  const size_t bytes = keypoint_bytes(*c);
  while (!keypoint_lru_.empty() && keypoint_bytes_ + bytes > keypoint_budget_) {
    const auto old = keypoints_.find(keypoint_lru_.back());
    keypoint_bytes_ -= keypoint_bytes(*old->second.first);
    keypoints_.erase(old);
    keypoint_lru_.pop_back();
  }
  if (bytes > keypoint_budget_) return;
  keypoint_lru_.push_front(i);
  keypoints_.emplace(i, std::make_pair(std::move(c), keypoint_lru_.begin()));
  keypoint_bytes_ += bytes;
}

void PairVerifier::demote_keypoints(uint32_t i, const Features& f, Features& c) {
  c.order_key = f.order_key;
  c.kp[0] = f.kp[0];
  c.desc[0] = f.desc[0];  // shared, never written again
  std::call_once(c.gray_once, [] {});
  std::call_once(c.plain_once, [] {});
  c.plain_ready = true;
  if (f.mirror_ready.load(std::memory_order_acquire)) {
    c.kp[1] = f.kp[1];
    c.desc[1] = f.desc[1];
    std::call_once(c.mirror_once, [] {});
    c.mirror_ready = true;
  }
  c.reload_gray = [this, i] {
    const double t0 = thread_cpu_seconds();
    cv::Mat gray;
    try {
      const cv::Mat img = load_(i);
      if (!img.empty()) gray = work_gray(img, params_.work_side);
    } catch (const std::exception&) {
      gray.release();  // the pair is refused by the exception the empty gray raises
    }
    const double cpu = thread_cpu_seconds() - t0;
    std::lock_guard lk(mu_);
    ++stats_.gray_reloads;
    stats_.image_cpu_seconds += cpu;
    return gray;
  };
}

GeometricMatch PairVerifier::verify_uncached(uint32_t a, uint32_t b) {
  if (const FirstTest t = first_test(a, b); !t.passed) return first_test_refusal(t, params_);
  const auto fa = features(a);  // both held: the cache may evict one while loading the other
  const auto fb = features(b);
  GeometricMatch g;
  if (!fa->error.empty() || !fb->error.empty()) {
    g.reason = !fa->error.empty() ? fa->error : fb->error;
    return g;
  }
  return match_counted(*fa, *fb);
}

GeometricMatch PairVerifier::match_counted(Features& a, Features& b) {
  GeometricMatch g;
  const double t0 = thread_cpu_seconds();
  try {
    g = match_pair(a, b, params_);
  } catch (const std::exception& e) {
    g = GeometricMatch{};
    g.reason = e.what();
  }
  const double cpu = thread_cpu_seconds() - t0;
  std::lock_guard lk(mu_);
  ++stats_.pairs;
  stats_.pair_cpu_seconds += cpu;
  return g;
}

GeometricMatch PairVerifier::verify(uint32_t a, uint32_t b) {
  return cached_pair(mu_, cache_, seconds_, a, b, [this](uint32_t x, uint32_t y) { return verify_uncached(x, y); });
}

void PairVerifier::verify_all(const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
  if (params_.first_test_side > 0) {
    // The first test of every pair not verified yet before any full verification: an image whose
    // pairs it all refuses is never loaded at the work size. Until the sample is full, in pieces
    // that fill it, after each of which the refusal share may switch the first test off.
    std::vector<PairKey> todo;
    {
      std::lock_guard lk(mu_);
      for (const auto& [a, b] : pairs) {
        const PairKey key = std::minmax(a, b);
        if (!cache_.count(key) && !first_tests_.count(key)) todo.push_back(key);
      }
      std::sort(todo.begin(), todo.end());
      todo.erase(std::unique(todo.begin(), todo.end()), todo.end());
    }
    const size_t sample = size_t(std::max(0, params_.first_test_sample));
    for (size_t start = 0; start < todo.size();) {
      size_t tested;
      {
        std::lock_guard lk(mu_);
        if (first_test_off_) break;
        tested = stats_.first_test_pairs;
      }
      const size_t end = tested < sample ? std::min(todo.size(), start + (sample - tested)) : todo.size();
      cached_pairs(mu_, first_tests_, seconds_, kFirstTestChunk, {todo.begin() + long(start), todo.begin() + long(end)},
                   [this](uint32_t x, uint32_t y) { return first_test_uncached(x, y); });
      start = end;
      std::lock_guard lk(mu_);
      if (stats_.first_test_pairs >= sample &&
          double(stats_.first_test_refused) < params_.first_test_min_refused * double(stats_.first_test_pairs))
        first_test_off_ = true;
    }
  }
  cached_pairs(mu_, cache_, seconds_, std::max<size_t>(1, max_cached_ / 4), pairs,
               [this](uint32_t x, uint32_t y) { return verify_uncached(x, y); });
}

std::vector<GeometricMatch> PairVerifier::verify_image(const cv::Mat& image, const std::vector<uint32_t>& items) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<GeometricMatch> out(items.size());
  Features q;
  try {
    q.gray = work_gray(image, params_.work_side);
    q.work_size = q.gray.size();
    q.source_pixels = int64_t(image.total());
    detect_plain(q, params_);
  } catch (const std::exception& e) {
    for (auto& g : out) g.reason = e.what();
    return out;
  }
  cv::parallel_for_(cv::Range(0, int(items.size())), [&](const cv::Range& r) {
    for (int k = r.start; k < r.end; ++k) {
      const auto f = features(items[size_t(k)]);
      GeometricMatch& g = out[size_t(k)];
      if (!f->error.empty())
        g.reason = f->error;
      else
        g = match_counted(q, *f);
    }
  });
  std::lock_guard lk(mu_);
  seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

void PairVerifier::set_first_test_loader(Loader load) {
  std::lock_guard lk(mu_);
  first_load_ = std::move(load);
}

std::shared_ptr<PairVerifier::FirstFeatures> PairVerifier::first_features(uint32_t i) {
  std::shared_ptr<FirstFeatures> f;
  {
    std::lock_guard lk(mu_);
    if (auto it = first_features_.find(i); it != first_features_.end()) {
      f = it->second.first;
      first_lru_.splice(first_lru_.begin(), first_lru_, it->second.second);
    } else {
      f = std::make_shared<FirstFeatures>();
      first_lru_.push_front(i);
      first_features_.emplace(i, std::make_pair(f, first_lru_.begin()));
    }
  }
  std::call_once(f->once, [&] {
    const double t0 = thread_cpu_seconds();
    cv::Mat gray;
    try {
      const cv::Mat img = first_load_ ? first_load_(i) : load_(i);
      if (img.empty()) f->error = "cannot decode";
      else gray = compute_first_features(*f, img, params_);
    } catch (const std::exception& e) {
      f->error = e.what();
    }
    const double cpu = thread_cpu_seconds() - t0;
    std::lock_guard lk(mu_);
    ++stats_.first_test_images;
    stats_.first_test_image_cpu_seconds += cpu;
    if (auto it = first_features_.find(i); it != first_features_.end() && it->second.first == f) {
      f->bytes = first_feature_bytes(*f);
      first_bytes_ += f->bytes;
      if (!gray.empty() && !f->kp.empty()) {  // kept for the mirror, within its own budget
        f->gray = gray;
        first_gray_lru_.push_front(i);
        f->gray_at = first_gray_lru_.begin();
        f->gray_listed = true;
        first_gray_bytes_ += gray.total();
        while (first_gray_bytes_ > first_gray_budget_) drop_first_gray(*first_features_.at(first_gray_lru_.back()).first);
      }
    }
    // Bounded memory: the least recently used go (a caller holding one keeps it alive).
    while (first_bytes_ > kFirstTestCacheBytes && first_lru_.size() > 1) {
      const auto old = first_features_.find(first_lru_.back());
      first_bytes_ -= old->second.first->bytes;
      drop_first_gray(*old->second.first);
      first_features_.erase(old);
      first_lru_.pop_back();
    }
  });
  return f;
}

size_t PairVerifier::first_feature_bytes(const FirstFeatures& f) {
  size_t bytes = sizeof(FirstFeatures) + 64 + f.kp.size() * sizeof(cv::KeyPoint);
  for (int o = 0; o < 2; ++o) bytes += f.pt[o].size() * sizeof(cv::Point2f) + f.desc[o].total() * f.desc[o].elemSize();
  return bytes;
}

void PairVerifier::drop_first_gray(FirstFeatures& f) {
  if (!f.gray_listed) return;
  first_gray_bytes_ -= f.gray.total();
  first_gray_lru_.erase(f.gray_at);
  f.gray_listed = false;
  f.gray.release();  // a thread describing the mirror holds its own reference
}

double PairVerifier::first_mirror(uint32_t i, FirstFeatures& f) {
  double spent = 0;
  std::call_once(f.mirror_once, [&] {
    const double t0 = thread_cpu_seconds();
    cv::Mat gray;
    size_t before;
    {
      std::lock_guard lk(mu_);
      gray = f.gray;
      drop_first_gray(f);
      before = first_feature_bytes(f);
    }
    bool reloaded = false;
    try {
      if (gray.empty() && !f.kp.empty()) {  // its grey was dropped: the same pixels, decoded again
        const cv::Mat img = first_load_ ? first_load_(i) : load_(i);
        if (!img.empty()) gray = work_gray(img, params_.first_test_side);
        reloaded = true;
      }
      if (!gray.empty()) describe_first_mirror(f, gray, params_);
    } catch (const std::exception&) {
      f.desc[1].release();  // no mirrored orientation: its test finds nothing
      f.pt[1].clear();
    }
    f.kp = {};
    const double cpu = spent = thread_cpu_seconds() - t0;
    std::lock_guard lk(mu_);
    ++stats_.first_test_mirrors;
    stats_.first_test_mirror_reloads += reloaded;
    stats_.first_test_image_cpu_seconds += cpu;
    if (auto it = first_features_.find(i); it != first_features_.end() && it->second.first.get() == &f) {
      const size_t after = first_feature_bytes(f);
      first_bytes_ = first_bytes_ - before + after;
      f.bytes = after;
    }
  });
  return spent;
}

PairVerifier::FirstTest PairVerifier::first_test_uncached(uint32_t a, uint32_t b) {
  const auto fa = first_features(a);  // both held: the cache may evict one while loading the other
  const auto fb = first_features(b);
  // An image the first test cannot read is left to the full verification (its refusal and reason).
  if (!fa->error.empty() || !fb->error.empty()) return {};
  const double t0 = thread_cpu_seconds();
  double mirror_cpu = 0;  // an image's cost (first_test_image_cpu_seconds), not the pair's
  FirstTest t;
  try {
    t = first_test_pair(*fa, *fb, params_, [&](const FirstFeatures& second) {
      mirror_cpu += first_mirror(&second == fa.get() ? a : b, &second == fa.get() ? *fa : *fb);
    });
  } catch (const std::exception&) {
    t = FirstTest{};  // passed: the full verification decides and gives the reason
  }
  const double cpu = thread_cpu_seconds() - t0 - mirror_cpu;
  std::lock_guard lk(mu_);
  ++stats_.first_test_pairs;
  stats_.first_test_refused += !t.passed;
  stats_.first_test_pair_cpu_seconds += cpu;
  return t;
}

PairVerifier::FirstTest PairVerifier::first_test(uint32_t a, uint32_t b) {
  if (params_.first_test_side <= 0) return {};
  {
    std::lock_guard lk(mu_);
    if (first_test_off_) {  // switched off: what it found before stands, the rest passes
      const auto it = first_tests_.find(std::minmax(a, b));
      return it != first_tests_.end() ? it->second : FirstTest{};
    }
  }
  // Its wall time is part of the verify() call that asked (seconds_), not counted again.
  double nested_seconds = 0;
  return cached_pair(mu_, first_tests_, nested_seconds, a, b, [this](uint32_t x, uint32_t y) { return first_test_uncached(x, y); });
}

PixelCheck PairVerifier::check_uncached(uint32_t a, uint32_t b) {
  const auto fa = features(a, false);
  const auto fb = features(b, false);
  PixelCheck c;
  if (!fa->error.empty() || !fb->error.empty()) {
    c.reason = !fa->error.empty() ? fa->error : fb->error;
    return c;
  }
  try {
    ensure_gray(*fa);
    ensure_gray(*fb);
    c = compare_gray(fa->gray, fb->gray, params_);
  } catch (const std::exception& e) {
    c = PixelCheck{};
    c.reason = e.what();
  }
  return c;
}

PixelCheck PairVerifier::check(uint32_t a, uint32_t b) {
  return cached_pair(mu_, checks_, check_seconds_, a, b, [this](uint32_t x, uint32_t y) { return check_uncached(x, y); });
}

void PairVerifier::check_all(const std::vector<std::pair<uint32_t, uint32_t>>& pairs) {
  cached_pairs(mu_, checks_, check_seconds_, std::max<size_t>(1, max_cached_ / 4), pairs,
               [this](uint32_t x, uint32_t y) { return check_uncached(x, y); });
}

std::vector<PixelCheck> PairVerifier::check_image(const cv::Mat& image, const std::vector<uint32_t>& items) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<PixelCheck> out(items.size());
  cv::Mat q;
  try {
    q = work_gray(image, params_.work_side);
  } catch (const std::exception& e) {
    for (auto& c : out) c.reason = e.what();
    return out;
  }
  cv::parallel_for_(cv::Range(0, int(items.size())), [&](const cv::Range& r) {
    for (int k = r.start; k < r.end; ++k) {
      const auto f = features(items[size_t(k)], false);
      PixelCheck& c = out[size_t(k)];
      if (!f->error.empty()) {
        c.reason = f->error;
        continue;
      }
      try {
        ensure_gray(*f);
        c = compare_gray(q, f->gray, params_);
      } catch (const std::exception& e) {
        c = PixelCheck{};
        c.reason = e.what();
      }
    }
  });
  std::lock_guard lk(mu_);
  image_checks_ += items.size();
  check_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return out;
}

size_t PairVerifier::pairs_checked() const {
  std::lock_guard lk(mu_);
  return checks_.size() + image_checks_;
}

double PairVerifier::check_seconds() const {
  std::lock_guard lk(mu_);
  return check_seconds_;
}

size_t PairVerifier::pairs_verified() const {
  std::lock_guard lk(mu_);
  return cache_.size();
}

double PairVerifier::seconds() const {
  std::lock_guard lk(mu_);
  return seconds_;
}

PairVerifier::Stats PairVerifier::stats() const {
  std::lock_guard lk(mu_);
  Stats s = stats_;
  s.first_test_switched_off = first_test_off_;
  return s;
}

}  // namespace irbis

// Helpers shared by the perceptual-hash tests.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "test_util.h"

namespace irbis::test {

// Encodes as JPEG at the given quality and decodes again (OpenCV), returning RGB.
inline cv::Mat jpeg_roundtrip(const cv::Mat& rgb, int quality) {
  const std::vector<uint8_t> bytes = encode(rgb, ".jpg", quality);
  cv::Mat bgr = cv::imdecode(bytes, cv::IMREAD_COLOR), out;
  cv::cvtColor(bgr, out, cv::COLOR_BGR2RGB);
  return out;
}

// An image whose left `split` columns have value `left` and the rest `right` (all channels).
inline cv::Mat two_halves(int w, int h, int split, uint8_t left, uint8_t right) {
  cv::Mat img(h, w, CV_8UC3, cv::Scalar::all(right));
  img(cv::Rect(0, 0, split, h)).setTo(cv::Scalar::all(left));
  return img;
}

using HashFn = std::function<uint64_t(const cv::Mat&)>;

// Largest hamming distance between the hash of a photo and its JPEG (q 75) / resized copies.
inline int worst_stability(const HashFn& fn, int seeds) {
  int worst = 0;
  for (int s = 0; s < seeds; ++s) {
    const cv::Mat img = synthetic_photo(640, 480, s);
    const uint64_t h = fn(img);
    cv::Mat lin;
    cv::resize(img, lin, cv::Size(300, 225), 0, 0, cv::INTER_LINEAR);
    worst = std::max(worst, hamming(h, fn(jpeg_roundtrip(img, 75))));
    worst = std::max(worst, hamming(h, fn(resize_area(img, 320, 240))));
    worst = std::max(worst, hamming(h, fn(lin)));
    worst = std::max(worst, hamming(h, fn(jpeg_roundtrip(lin, 85))));
  }
  return worst;
}

// Pairwise distances between hashes of different synthetic photos.
inline std::vector<int> distinct_distances(const HashFn& fn, int n) {
  std::vector<uint64_t> hs;
  for (int s = 0; s < n; ++s) hs.push_back(fn(synthetic_photo(320, 240, 1000 + s)));
  std::vector<int> d;
  for (int i = 0; i < n; ++i)
    for (int j = i + 1; j < n; ++j) d.push_back(hamming(hs[i], hs[j]));
  return d;
}

}  // namespace irbis::test

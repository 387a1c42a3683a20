// phash_variants: the pHash of mirrored and rotated images, computed from the original's DCT, must
// equal the pHash of the actually transformed image.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/hashes.h"

namespace irbis {
namespace {

const char* kPhotoDir = "/usr/share/doc/opencv-doc/examples/data/";

std::vector<cv::Mat> real_photos() {
  std::vector<cv::Mat> out;
  for (const char* name : {"baboon.jpg", "fruits.jpg", "building.jpg", "aloeL.jpg", "messi5.jpg", "home.jpg",
                           "butterfly.jpg", "starry_night.jpg", "lena.jpg", "orange.jpg"}) {
    cv::Mat bgr = cv::imread(std::string(kPhotoDir) + name, cv::IMREAD_COLOR), rgb;
    if (bgr.empty()) continue;
    cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
    out.push_back(rgb);
  }
  return out;
}

cv::Mat apply(const cv::Mat& img, HashVariant v) {
  cv::Mat out;
  switch (v) {
    case HashVariant::identity: out = img.clone(); break;
    case HashVariant::mirror: cv::flip(img, out, 1); break;
    case HashVariant::flip_vertical: cv::flip(img, out, 0); break;
    case HashVariant::rotate_180: cv::rotate(img, out, cv::ROTATE_180); break;
    case HashVariant::transpose: cv::transpose(img, out); break;
    case HashVariant::rotate_90: cv::rotate(img, out, cv::ROTATE_90_CLOCKWISE); break;
    case HashVariant::rotate_270: cv::rotate(img, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    case HashVariant::anti_transpose: cv::transpose(img, out); cv::rotate(out, out, cv::ROTATE_180); break;
  }
  return out;
}

TEST(PhashVariants, EqualThePhashOfTheTransformedPhotoBitExactly) {
  const std::vector<cv::Mat> photos = real_photos();
  if (photos.size() < 5) GTEST_SKIP() << "opencv-doc sample photos not installed";
  int checked = 0;
  for (size_t p = 0; p < photos.size(); ++p) {
    const auto variants = phash_variants(photos[p]);
    EXPECT_EQ(variants[0], phash(photos[p]));
    for (int v = 0; v < kHashVariants; ++v) {
      const uint64_t want = phash(apply(photos[p], HashVariant(v)));
      EXPECT_EQ(variants[size_t(v)], want)
          << "photo " << p << " variant " << hash_variant_name(HashVariant(v)) << ": "
          << hamming(variants[size_t(v)], want) << " bits differ";
      ++checked;
    }
  }
  EXPECT_GE(checked, 40);
}

TEST(PhashVariants, MirrorIsFarFromTheOriginalButItsVariantIsExact) {
  // Without the variant a mirrored photo is ~32 bits away (unrelated); with it, 0.
  const std::vector<cv::Mat> photos = real_photos();
  if (photos.empty()) GTEST_SKIP() << "opencv-doc sample photos not installed";
  for (const cv::Mat& img : photos) {
    cv::Mat m;
    cv::flip(img, m, 1);
    EXPECT_GT(hamming(phash(img), phash(m)), 12);
    EXPECT_EQ(phash_variants(img)[size_t(HashVariant::mirror)], phash(m));
    EXPECT_EQ(phash_variants(m)[size_t(HashVariant::mirror)], phash(img));
  }
}

TEST(PhashVariants, NamesAndBadInput) {
  EXPECT_STREQ(hash_variant_name(HashVariant::mirror), "mirror");
  EXPECT_STREQ(hash_variant_name(HashVariant::rotate_90), "rotate-90");
  EXPECT_THROW(phash_variants(cv::Mat()), std::exception);
}

}  // namespace
}  // namespace irbis

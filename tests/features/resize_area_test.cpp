#include <algorithm>
#include <cstring>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/hashes.h"
#include "irbis/image.h"
#include "test_util.h"

namespace irbis {
namespace {

TEST(ResizeArea, IntegerFactorIsBlockMean) {
  cv::Mat src(4, 4, CV_32F);
  for (int i = 0; i < 16; ++i) src.at<float>(i / 4, i % 4) = float(i);
  const cv::Mat d = resize_area(src, 2, 2);
  EXPECT_FLOAT_EQ(d.at<float>(0, 0), (0 + 1 + 4 + 5) / 4.f);
  EXPECT_FLOAT_EQ(d.at<float>(1, 1), (10 + 11 + 14 + 15) / 4.f);
}

TEST(ResizeArea, FractionalFactorUsesExactAreas) {
  // 3 -> 2: output pixel 0 covers source [0, 1.5), pixel 1 covers [1.5, 3).
  cv::Mat src = (cv::Mat_<float>(1, 3) << 3.f, 6.f, 12.f);
  const cv::Mat d = resize_area(src, 2, 1);
  EXPECT_NEAR(d.at<float>(0, 0), (3 + 0.5 * 6) / 1.5, 1e-5);
  EXPECT_NEAR(d.at<float>(0, 1), (0.5 * 6 + 12) / 1.5, 1e-5);
}

TEST(ResizeArea, MixedDirectionsStillAverageTheShrinkingAxis) {
  // Width 6 -> 3 (shrink), height 1 -> 2 (grow): each output row holds pair averages.
  cv::Mat src = (cv::Mat_<uint8_t>(1, 6) << 0, 10, 20, 30, 100, 200);
  const cv::Mat d = resize_area(src, 3, 2);
  ASSERT_EQ(d.type(), CV_8UC1);
  for (int y = 0; y < 2; ++y) {
    EXPECT_EQ(d.at<uint8_t>(y, 0), 5);
    EXPECT_EQ(d.at<uint8_t>(y, 1), 25);
    EXPECT_EQ(d.at<uint8_t>(y, 2), 150);
  }
}

TEST(ResizeArea, SameSizeIsACopyAndBadArgsThrow) {
  cv::Mat src(5, 7, CV_8UC3, cv::Scalar(1, 2, 3));
  const cv::Mat d = resize_area(src, 7, 5);
  EXPECT_EQ(cv::norm(src, d, cv::NORM_INF), 0.0);
  EXPECT_NE(d.data, src.data);
  EXPECT_THROW(resize_area(src, 0, 5), Error);
  EXPECT_THROW(resize_area(cv::Mat(), 5, 5), Error);
}

// resize_area computes shrinks itself (src/features/resize.cpp); they must be cv::resize's bytes.
cv::Mat opencv_area(const cv::Mat& src, cv::Size to) {
  cv::Mat out;
  cv::resize(src, out, to, 0, 0, cv::INTER_AREA);
  return out;
}

// Same size, same type, same bytes (NaN-free inputs: a bytewise comparison is bit identity).
::testing::AssertionResult same_bytes(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type())
    return ::testing::AssertionFailure() << "size or type differs: " << a.size() << " vs " << b.size();
  for (int y = 0; y < a.rows; ++y)
    if (std::memcmp(a.ptr(y), b.ptr(y), a.cols * a.elemSize()) != 0) {
      for (int x = 0; x < a.cols * a.channels(); ++x) {
        const double va = a.depth() == CV_8U ? a.ptr<uint8_t>(y)[x] : a.ptr<float>(y)[x];
        const double vb = b.depth() == CV_8U ? b.ptr<uint8_t>(y)[x] : b.ptr<float>(y)[x];
        if (va != vb) return ::testing::AssertionFailure() << "row " << y << " scalar " << x << ": " << va << " vs " << vb;
      }
      return ::testing::AssertionFailure() << "row " << y << " differs";
    }
  return ::testing::AssertionSuccess();
}

cv::Mat random_image(cv::RNG& rng, int w, int h, int type) {
  cv::Mat m(h, w, type);
  if (CV_MAT_DEPTH(type) == CV_8U)
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
  else
    rng.fill(m, cv::RNG::UNIFORM, -1000.0, 1000.0);  // any float, negative too
  return m;
}

TEST(ResizeArea, ShrinkIsOpenCvBitForBitOnRandomSizes) {
  cv::RNG rng(15);
  int checked = 0;
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_32FC1, CV_32FC3})
    for (int i = 0; i < 120; ++i) {
      const int w = rng.uniform(1, 700), h = rng.uniform(1, 500);
      const cv::Size to(rng.uniform(1, w + 1), rng.uniform(1, h + 1));
      SCOPED_TRACE(cv::format("type %d: %dx%d -> %dx%d", type, w, h, to.width, to.height));
      const cv::Mat src = random_image(rng, w, h, type);
      ASSERT_TRUE(same_bytes(resize_area(src, to.width, to.height), opencv_area(src, to)));
      ++checked;
    }
  EXPECT_EQ(checked, 600);
}

TEST(ResizeArea, ShrinkIsOpenCvBitForBitOnTheIndexSizes) {
  // The decodes `index` resizes (1/8 of 12 MP and 1/4 of 1 MP photos, odd sizes, one row or column,
  // integer factors on one or both axes, which cv::resize computes its own way) to the CNN's 224 px
  // and the hashes' 32x32, 9x8 and 8x8.
  const std::vector<cv::Size> from = {{500, 375}, {375, 500}, {300, 225}, {150, 113}, {504, 378}, {225, 224},
                                      {224, 300}, {448, 448}, {256, 256}, {63, 32},   {32, 32},   {1001, 1},
                                      {1, 777},   {288, 256}, {449, 225}, {33, 9}};
  const std::vector<cv::Size> to = {{224, 224}, {32, 32}, {9, 8}, {8, 8}, {1, 1}};
  cv::RNG rng(7);
  for (int type : {CV_8UC3, CV_32FC1})
    for (const auto& f : from)
      for (const auto& t : to) {
        if (t.width > f.width || t.height > f.height) continue;
        SCOPED_TRACE(cv::format("type %d: %dx%d -> %dx%d", type, f.width, f.height, t.width, t.height));
        const cv::Mat src = random_image(rng, f.width, f.height, type);
        ASSERT_TRUE(same_bytes(resize_area(src, t.width, t.height), opencv_area(src, t)));
      }
}

TEST(ResizeArea, ShrinkIsOpenCvBitForBitOnPhotos) {
  // Real photos (Debian's opencv-doc), as the CNN sees them (8-bit RGB) and as the hashes do
  // (float grey), shrunk to the sizes the index uses, including from a region (non-contiguous rows).
  const std::string data = "/usr/share/doc/opencv-doc/examples/data/";
  int photos = 0;
  for (const char* name : {"baboon.jpg", "fruits.jpg", "building.jpg", "messi5.jpg", "aero1.jpg", "orange.jpg",
                           "butterfly.jpg", "HappyFish.jpg", "board.jpg", "home.jpg", "lena.jpg", "apple.jpg"}) {
    const cv::Mat bgr = cv::imread(data + name, cv::IMREAD_COLOR);
    if (bgr.empty()) continue;
    ++photos;
    SCOPED_TRACE(name);
    cv::Mat grey, grey_f;
    cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
    grey.convertTo(grey_f, CV_32F, 1.0 / 3.0);  // fractional values
    const cv::Mat region = bgr(cv::Rect(3, 1, bgr.cols - 7, bgr.rows - 2));
    for (const cv::Mat& src : {bgr, region, grey_f})
      for (cv::Size to : {cv::Size(224, 224), cv::Size(32, 32), cv::Size(9, 8), cv::Size(8, 8), cv::Size(src.cols / 3, src.rows / 2 + 1)})
        if (to.width <= src.cols && to.height <= src.rows) {  // (one axis growing is two passes by design)
          ASSERT_TRUE(same_bytes(resize_area(src, to.width, to.height), opencv_area(src, to))) << to;
        }
  }
  EXPECT_GE(photos, 8) << "opencv-doc's example photos are needed";
}

TEST(ResizeArea, SeveralSizesAtOnceEqualOneByOne) {
  cv::RNG rng(3);
  for (int type : {CV_32FC1, CV_8UC3})
    for (const cv::Size from : {cv::Size(500, 375), cv::Size(150, 113), cv::Size(37, 61), cv::Size(20, 40), cv::Size(256, 256)}) {
      const cv::Mat src = random_image(rng, from.width, from.height, type);
      // shrinks, an integer factor, the same size, one axis growing, both growing
      const std::vector<cv::Size> sizes = {{32, 32}, {9, 8}, {8, 8}, from, {64, 12}, {600, 500}};
      const std::vector<cv::Mat> many = resize_area(src, sizes);
      ASSERT_EQ(many.size(), sizes.size());
      for (size_t i = 0; i < sizes.size(); ++i) {
        SCOPED_TRACE(cv::format("type %d: %dx%d -> %dx%d", type, from.width, from.height, sizes[i].width, sizes[i].height));
        EXPECT_TRUE(same_bytes(many[i], resize_area(src, sizes[i].width, sizes[i].height)));
      }
    }
  EXPECT_THROW(resize_area(cv::Mat(), std::vector<cv::Size>{{2, 2}}), Error);
  EXPECT_THROW(resize_area(cv::Mat(4, 4, CV_8UC1), std::vector<cv::Size>{{0, 2}}), Error);
}

}  // namespace
}  // namespace irbis

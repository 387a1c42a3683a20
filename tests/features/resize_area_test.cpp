#include <gtest/gtest.h>

#include "irbis/errors.h"
#include "irbis/image.h"

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

}  // namespace
}  // namespace irbis

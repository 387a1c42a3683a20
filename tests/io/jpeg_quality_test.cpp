// jpeg_quality: the IJG quality factor estimated from a JPEG's quantisation tables.
#include <array>
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "irbis/image.h"
#include "test_util.h"

namespace irbis::test {
namespace {

std::vector<uint8_t> jpeg_at(const cv::Mat& bgr, int q) {
  std::vector<uint8_t> out;
  EXPECT_TRUE(cv::imencode(".jpg", bgr, out, {cv::IMWRITE_JPEG_QUALITY, q}));
  return out;
}

// OpenCV (libjpeg's jpeg_set_quality, as PIL and cjpeg) re-encodes of a real photo at every
// quality 10..100, colour and grey: the estimate is within 2 of the quality asked for.
TEST(JpegQuality, EstimateWithinTwoOnOpenCvReencodes) {
  const std::string photo = "/usr/share/doc/opencv-doc/examples/data/baboon.jpg";
  ASSERT_TRUE(std::filesystem::exists(photo)) << "opencv-doc's example photos are needed";
  const cv::Mat bgr = cv::imread(photo, cv::IMREAD_COLOR);
  ASSERT_FALSE(bgr.empty());
  cv::Mat grey;
  cv::cvtColor(bgr, grey, cv::COLOR_BGR2GRAY);
  int exact = 0, tried = 0;
  for (int q = 10; q <= 100; ++q)
    for (const cv::Mat* img : std::array<const cv::Mat*, 2>{&bgr, &grey}) {
      const float est = jpeg_quality(jpeg_at(*img, q));
      ASSERT_TRUE(std::isfinite(est)) << "q " << q;
      EXPECT_NEAR(est, q, 2.0) << "q " << q << (img == &grey ? " grey" : " colour");
      exact += int(est) == q;
      ++tried;
    }
  // libjpeg's own tables are matched exactly but where neighbouring qualities give the same tables.
  EXPECT_GE(exact, tried * 9 / 10);
}

TEST(JpegQuality, AnythingButAReadableJpegIsNaN) {
  const cv::Mat img = synthetic_photo(64, 48, 3);
  EXPECT_TRUE(std::isnan(jpeg_quality(encode(img, ".png"))));
  EXPECT_TRUE(std::isnan(jpeg_quality(encode(img, ".webp"))));
  EXPECT_TRUE(std::isnan(jpeg_quality({})));
  const std::vector<uint8_t> jpeg = jpeg_at(img, 80);
  EXPECT_NEAR(jpeg_quality(jpeg), 80, 2);
  // The start of a JPEG, cut before its tables, and the markers with garbage after them.
  EXPECT_TRUE(std::isnan(jpeg_quality(std::span<const uint8_t>(jpeg.data(), 12))));
  std::vector<uint8_t> garbage = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x02};
  garbage.resize(200, 0x5A);
  EXPECT_TRUE(std::isnan(jpeg_quality(garbage)));
}

}  // namespace
}  // namespace irbis::test

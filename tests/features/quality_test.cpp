// The quality measures on images whose property is known by construction: blurred vs sharp,
// dark vs normal, flat, grayscale, smooth content with a few sharp edges.
#include "irbis/quality.h"

#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "irbis/errors.h"
#include "irbis/image.h"
#include "irbis/issues.h"
#include "test_util.h"

namespace irbis::test {
namespace {

cv::Mat blurred(const cv::Mat& img, double sigma) {
  cv::Mat out;
  cv::GaussianBlur(img, out, cv::Size(0, 0), sigma);
  return out;
}

// Filled rectangles and circle outlines in random colours: every edge a one-pixel step.
cv::Mat sharp_scene(int seed) {
  cv::RNG rng(uint64_t(seed) + 1);
  cv::Mat img(240, 320, CV_8UC3, cv::Scalar(rng.uniform(40, 200), rng.uniform(40, 200), rng.uniform(40, 200)));
  for (int i = 0; i < 25; ++i) {
    const cv::Scalar c(rng.uniform(0, 256), rng.uniform(0, 256), rng.uniform(0, 256));
    const int x = rng.uniform(0, 300), y = rng.uniform(0, 220);
    cv::rectangle(img, cv::Rect(x, y, rng.uniform(10, 80), rng.uniform(10, 80)), c, cv::FILLED);
    cv::circle(img, cv::Point(rng.uniform(0, 320), rng.uniform(0, 240)), rng.uniform(5, 40), c, 2);
  }
  return img;
}

TEST(Quality, BlurLowersBothSharpnessMeasures) {
  for (int s = 0; s < 4; ++s) {
    const cv::Mat sharp = sharp_scene(s);
    EXPECT_GT(quality_measures(sharp)[kEdgeRatio], 0.85f) << "seed " << s;
    const QualityRow a = quality_measures(sharp), b = quality_measures(blurred(sharp, 3.0));
    EXPECT_LT(b[kLaplacianVar], 0.2f * a[kLaplacianVar]) << "seed " << s;
    EXPECT_LT(b[kEdgeRatio], 0.75f * a[kEdgeRatio]) << "seed " << s;
    EXPECT_LT(b[kEdgeRatio], 0.7f) << "seed " << s;
  }
}

TEST(Quality, SmoothContentWithSharpEdgesIsNotBlurry) {
  // A smooth gradient with one thin sharp line: little Laplacian energy overall (reads "blurry"
  // to variance of the Laplacian) but its edges are sharp, which the edge ratio sees.
  cv::Mat img(240, 320, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(80 + x / 4), uchar(100 + y / 4), 150);
  cv::rectangle(img, cv::Rect(100, 60, 120, 120), cv::Scalar(20, 20, 20), 2);
  // sigma 6 px at 320 px: ~2.4 px on the 128 px grey the edge ratio is taken on.
  const QualityRow sharp = quality_measures(img), soft = quality_measures(blurred(img, 6.0));
  EXPECT_GT(sharp[kEdgeRatio], 0.85f);
  EXPECT_LT(soft[kEdgeRatio], 0.7f);
}

// A sharp scene with sensor-like grain: what a clean photo has and a blurred one loses.
cv::Mat grainy(const cv::Mat& img, int seed) {
  cv::Mat noise(img.size(), CV_16SC3), out;
  cv::RNG(uint64_t(seed) + 100).fill(noise, cv::RNG::NORMAL, 0, 3);
  img.convertTo(out, CV_16SC3);
  out += noise;
  out.convertTo(out, CV_8UC3);
  return out;
}

TEST(Sharpness, BlurKeepsEdgesUnderReblurAndRemovesGrain) {
  for (int s = 0; s < 4; ++s) {
    const cv::Mat sharp = grainy(sharp_scene(s), s);
    const SharpnessRow a = sharpness_measures(sharp), b = sharpness_measures(blurred(sharp, 2.0));
    // Against the shipped blurry rule (both measures must cross: reblur above, noise below), with
    // a margin, not the bits of one compiler's float rounding (clang and gcc differ in the 3rd digit).
    const IssueParams rule;
    EXPECT_LT(a[kEdgeReblur], rule.blurry_reblur - 0.02) << "seed " << s;
    EXPECT_GT(a[kFineNoise], rule.blurry_noise + 0.1) << "seed " << s;
    EXPECT_GT(b[kEdgeReblur], rule.blurry_reblur + 0.02) << "seed " << s;
    EXPECT_LT(b[kFineNoise], rule.blurry_noise) << "seed " << s;
  }
}

TEST(Sharpness, SmoothContentWithSharpEdgesIsNotBlurry) {
  // No grain at all (fine_noise low), but the one thin line is sharp: a 1 px blur softens it.
  cv::Mat img(240, 320, CV_8UC3);
  for (int y = 0; y < img.rows; ++y)
    for (int x = 0; x < img.cols; ++x) img.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(80 + x / 4), uchar(100 + y / 4), 150);
  cv::rectangle(img, cv::Rect(100, 60, 120, 120), cv::Scalar(20, 20, 20), 2);
  EXPECT_LT(sharpness_measures(img)[kEdgeReblur], 0.8f);
  EXPECT_GT(sharpness_measures(blurred(img, 3.0))[kEdgeReblur], 0.82f);
}

TEST(Sharpness, FlatImageHasNoEdgesAndNoGrain) {
  const SharpnessRow s = sharpness_measures(cv::Mat(100, 100, CV_8UC3, cv::Scalar(90, 90, 90)));
  EXPECT_FLOAT_EQ(s[kEdgeReblur], 1.f);
  EXPECT_FLOAT_EQ(s[kFineNoise], 0.f);
  EXPECT_THROW(sharpness_measures(cv::Mat()), Error);
  EXPECT_EQ(std::string(sharpness_column_names()[kFineNoise]), "fine_noise");
}

TEST(Quality, DarkAndBrightShiftTheLuminancePercentiles) {
  const cv::Mat img = synthetic_photo(320, 240, 7);
  cv::Mat dark, bright;
  img.convertTo(dark, -1, 0.15);
  img.convertTo(bright, -1, 0.3, 200);
  const QualityRow n = quality_measures(img), d = quality_measures(dark), b = quality_measures(bright);
  EXPECT_LT(d[kLumP99], 0.2f);
  EXPECT_GT(n[kLumP99], 0.5f);
  EXPECT_GT(b[kLumP05], 0.75f);
  EXPECT_LT(n[kLumP05], 0.5f);
  EXPECT_LE(n[kLumP01], n[kLumP05]);
  EXPECT_LE(n[kLumP05], n[kLumP50]);
  EXPECT_LE(n[kLumP50], n[kLumP95]);
  EXPECT_LE(n[kLumP95], n[kLumP99]);
  EXPECT_LT(b[kLumStd], n[kLumStd]);
}

TEST(Quality, FlatImageHasNoInformation) {
  const QualityRow q = quality_measures(cv::Mat(100, 150, CV_8UC3, cv::Scalar(90, 120, 200)));
  EXPECT_FLOAT_EQ(q[kEntropy], 0.f);
  EXPECT_FLOAT_EQ(q[kUniqueColors], 1.f);
  EXPECT_FLOAT_EQ(q[kLaplacianVar], 0.f);
  EXPECT_FLOAT_EQ(q[kEdgeRatio], 0.f);
  EXPECT_FLOAT_EQ(q[kLumStd], 0.f);
  EXPECT_NEAR(q[kLumP50], (0.299 * 90 + 0.587 * 120 + 0.114 * 200) / 255, 1.0 / 255);
  const QualityRow photo = quality_measures(synthetic_photo(320, 240, 3));
  EXPECT_GT(photo[kEntropy], 5.f);
  EXPECT_GT(photo[kUniqueColors], 200.f);
}

TEST(Quality, GrayscaleHasNoColour) {
  const cv::Mat img = synthetic_photo(320, 240, 11);
  cv::Mat grey, grey3;
  cv::cvtColor(img, grey, cv::COLOR_RGB2GRAY);
  cv::cvtColor(grey, grey3, cv::COLOR_GRAY2RGB);
  const QualityRow c = quality_measures(img), g = quality_measures(grey3);
  EXPECT_FLOAT_EQ(g[kColoredFraction], 0.f);
  EXPECT_NEAR(g[kColorfulness], 0.f, 1e-3);
  EXPECT_GT(c[kColoredFraction], 0.3f);
  EXPECT_GT(c[kColorfulness], 15.f);
}

TEST(Quality, ScoresDoNotDependOnTheDecodedSize) {
  const cv::Mat big = synthetic_photo(640, 480, 5);
  const QualityRow a = quality_measures(big), b = quality_measures(resize_area(big, 320, 240));
  EXPECT_NEAR(a[kEdgeRatio], b[kEdgeRatio], 0.15f);
  EXPECT_NEAR(a[kLumP50], b[kLumP50], 0.02f);
  EXPECT_NEAR(a[kColoredFraction], b[kColoredFraction], 0.05f);
}

TEST(Quality, RefusesWrongInput) {
  EXPECT_THROW(quality_measures(cv::Mat()), Error);
  EXPECT_THROW(quality_measures(cv::Mat(10, 10, CV_8UC1, cv::Scalar(0))), Error);
  EXPECT_EQ(std::string(quality_column_names()[kEdgeRatio]), "edge_ratio");
}

}  // namespace
}  // namespace irbis::test

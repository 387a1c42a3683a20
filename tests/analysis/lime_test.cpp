#include <gtest/gtest.h>

#include <random>

#include "irbis/errors.h"
#include "irbis/lime.h"
#include "test_util.h"

using namespace irbis;

TEST(Lime, WeightedRidgeRecoversLinearModel) {
  std::mt19937_64 rng(1);
  const int n = 400, S = 6;
  const double truth[S] = {0.5, -0.2, 0.0, 0.1, 0.3, -0.4};
  cv::Mat Z(n, S, CV_32F);
  std::vector<double> y(n), w(n);
  for (int i = 0; i < n; ++i) {
    double f = 0.25;
    for (int s = 0; s < S; ++s) {
      Z.at<float>(i, s) = float(rng() & 1);
      f += truth[s] * Z.at<float>(i, s);
    }
    y[size_t(i)] = f;
    w[size_t(i)] = 0.5 + double(rng() % 100) / 100;
  }
  double b = 0, r2 = 0;
  const auto beta = weighted_ridge(Z, y, w, 1e-6, &b, &r2);
  for (int s = 0; s < S; ++s) EXPECT_NEAR(beta[size_t(s)], truth[s], 1e-4);
  EXPECT_NEAR(b, 0.25, 1e-4);
  EXPECT_NEAR(r2, 1.0, 1e-6);
  // A strong penalty shrinks the weights.
  const auto shrunk = weighted_ridge(Z, y, w, 1e4, nullptr, nullptr);
  EXPECT_LT(std::abs(shrunk[0]), 0.1);
}

TEST(Lime, SlicGivesCompactIdsAndRefusesTinyImages) {
  const cv::Mat img = test::synthetic_photo(160, 120, 3);
  int n = 0;
  const cv::Mat labels = slic_superpixels(img, 20, 10.0, &n);
  EXPECT_GE(n, 8);
  EXPECT_LE(n, 40);
  double lo = 0, hi = 0;
  cv::minMaxLoc(labels, &lo, &hi);
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(int(hi), n - 1);
  try {
    slic_superpixels(test::synthetic_photo(40, 30, 1), 100, 10.0, &n);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("too small"), std::string::npos);
  }
}

TEST(Lime, DrawHighlightsOnlyTopSuperpixels) {
  LimeResult r;
  r.image = cv::Mat(20, 20, CV_8UC3, cv::Scalar(200, 200, 200));
  r.labels = cv::Mat(20, 20, CV_32S, cv::Scalar(0));
  r.labels(cv::Rect(10, 0, 10, 20)).setTo(1);
  r.superpixels = {{0, -0.1, 200, {0, 0, 10, 20}}, {1, 0.5, 200, {10, 0, 10, 20}}};
  const cv::Mat out = draw_lime(r, 90);
  EXPECT_EQ(out.at<cv::Vec3b>(10, 3)[0], 60);   // dimmed
  EXPECT_EQ(out.at<cv::Vec3b>(10, 15)[0], 200); // kept
}

// The verifier's dense check (analysis/impl/dense_check.h): its own tile loop gives what the
// OpenCV calls it replaced (countNonZero, meanStdDev, multiply, mean per tile) gave, tile for tile,
// on real photos aligned by a real fit.
#include "analysis/impl/dense_check.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace irbis::impl {
namespace {

cv::Mat gray_photo(const std::string& name, int side) {
  const cv::Mat img = cv::imread("/usr/share/doc/opencv-doc/examples/data/" + name, cv::IMREAD_GRAYSCALE);
  if (img.empty()) return img;
  cv::Mat out;
  const double s = double(side) / std::max(img.cols, img.rows);
  cv::resize(img, out, cv::Size(), s, s, cv::INTER_AREA);
  return out;
}

// The per-tile statistics as the dense check computed them before, with OpenCV's calls.
TileStats reference_stats(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask, const cv::Rect& r) {
  TileStats t;
  t.count = cv::countNonZero(mask(r));
  if (!t.count) return t;
  cv::Scalar ma, sa, mb, sb;
  cv::meanStdDev(a(r), ma, sa, mask(r));
  cv::meanStdDev(b(r), mb, sb, mask(r));
  t.mean_a = ma[0], t.std_a = sa[0], t.mean_b = mb[0], t.std_b = sb[0];
  if (t.std_a == 0 || t.std_b == 0) return t;
  cv::Mat prod;
  cv::multiply(a(r) - ma[0], b(r) - mb[0], prod);
  t.correlation = cv::mean(prod, mask(r))[0] / (sa[0] * sb[0]);
  return t;
}

struct Aligned {
  cv::Mat da, warped, mask;
};

// detail(a) and detail(b) warped by the a->b similarity m, with the mask the dense check uses.
Aligned align(const cv::Mat& ga, const cv::Mat& gb, const cv::Mat& m) {
  cv::Mat mh = m.clone();
  mh.at<double>(0, 2) /= 2;
  mh.at<double>(1, 2) /= 2;
  Aligned out;
  out.da = detail(ga);
  const cv::Mat db = detail(gb);
  cv::warpAffine(db, out.warped, mh, out.da.size(), cv::INTER_LINEAR | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::Mat ones(db.size(), CV_8U, cv::Scalar(255));
  cv::warpAffine(ones, out.mask, mh, out.da.size(), cv::INTER_NEAREST | cv::WARP_INVERSE_MAP, cv::BORDER_CONSTANT, 0);
  cv::erode(out.mask, out.mask, cv::Mat(), cv::Point(-1, -1), 4);
  return out;
}

TEST(DenseCheck, TileStatisticsAreOpenCVsTileForTile) {
  // A copy (rotated, scaled, shifted), another frame of a moving scene and a stereo partner: tiles
  // that agree, disagree, are flat, or lie partly outside the overlap.
  struct Case {
    std::string a, b;
    double angle, scale, dx, dy;
  };
  const std::vector<Case> cases = {{"fruits.jpg", "fruits.jpg", 7, 0.9, 12, -5},
                                   {"baboon.jpg", "baboon.jpg", -3, 1.1, -20, 8},
                                   {"left01.jpg", "left02.jpg", 0, 1.0, 0, 0},
                                   {"aloeL.jpg", "aloeR.jpg", 0, 1.0, 0, 0},
                                   {"basketball1.png", "basketball2.png", 1, 1.0, 3, 2}};
  int tiles = 0, compared = 0, agreeing = 0;
  for (const Case& c : cases) {
    const cv::Mat ga = gray_photo(c.a, 512), gb = gray_photo(c.b, 512);
    ASSERT_FALSE(ga.empty() || gb.empty()) << c.a << ", " << c.b;
    cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(float(ga.cols) / 2, float(ga.rows) / 2), c.angle, c.scale);
    m.at<double>(0, 2) += c.dx, m.at<double>(1, 2) += c.dy;
    const Aligned al = align(ga, gb, m);
    for (int y = 0; y + 16 <= al.da.rows; y += 16)
      for (int x = 0; x + 16 <= al.da.cols; x += 16) {
        const cv::Rect r(x, y, 16, 16);
        const TileStats want = reference_stats(al.da, al.warped, al.mask, r), got = tile_stats(al.da, al.warped, al.mask, r);
        ++tiles;
        ASSERT_EQ(got.count, want.count) << c.a << " tile " << x << "," << y;
        if (!want.count) continue;
        ++compared;
        EXPECT_NEAR(got.mean_a, want.mean_a, 1e-9 * (1 + std::abs(want.mean_a)));
        EXPECT_NEAR(got.mean_b, want.mean_b, 1e-9 * (1 + std::abs(want.mean_b)));
        EXPECT_NEAR(got.std_a, want.std_a, 1e-9 * (1 + want.std_a));
        EXPECT_NEAR(got.std_b, want.std_b, 1e-9 * (1 + want.std_b));
        EXPECT_NEAR(got.correlation, want.correlation, 1e-6) << c.a << " tile " << x << "," << y;
        // The decisions made from them are the same.
        EXPECT_EQ(got.std_a < 2.0, want.std_a < 2.0);
        EXPECT_EQ(got.std_b < 2.0, want.std_b < 2.0);
        EXPECT_EQ(got.correlation >= 0.5, want.correlation >= 0.5) << c.a << " tile " << x << "," << y;
        agreeing += want.correlation >= 0.5;
      }
  }
  // The cases cover both kinds of tile.
  EXPECT_GT(compared, 500);
  EXPECT_GT(agreeing, 100);
  EXPECT_LT(agreeing, compared - 100);
  EXPECT_GT(tiles, compared);  // and tiles outside the overlap
}

TEST(DenseCheck, ACopyAgreesAndAnotherViewDoesNot) {
  const cv::Mat ga = gray_photo("fruits.jpg", 512);
  ASSERT_FALSE(ga.empty());
  const cv::Mat m = cv::getRotationMatrix2D(cv::Point2f(200, 200), 5, 0.95);
  cv::Mat gb;  // b = a warped by m: m maps a's points onto b's
  cv::warpAffine(ga, gb, m, ga.size(), cv::INTER_LINEAR, cv::BORDER_REFLECT);
  const DenseCheck same = dense_check(ga, gb, m);
  EXPECT_GT(same.agreement, 0.9);
  EXPECT_GT(same.overlap, 0.8);
  const cv::Mat l = gray_photo("aloeL.jpg", 512), r = gray_photo("aloeR.jpg", 512);
  ASSERT_FALSE(l.empty() || r.empty());
  const DenseCheck stereo = dense_check(l, r, cv::Mat::eye(2, 3, CV_64F));
  EXPECT_LT(stereo.agreement, 0.65);
}

}  // namespace
}  // namespace irbis::impl

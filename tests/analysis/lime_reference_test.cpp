// LIME's local model held against an independent reference on the same perturbation masks: the
// masks irbis draws (lime_masks) and class scores of a synthetic non-linear classifier go to
// lime_reference.py (numpy + scikit-learn, the `lime` package's kernel and Ridge), whose
// coefficients must match fit_lime's. Removing or changing the distance weighting fails here.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include <nlohmann/json.hpp>

#include "irbis/lime.h"
#include "irbis/npy.h"
#include "test_util.h"

using namespace irbis;

namespace {

struct Reference {
  double intercept = 0;
  std::vector<double> coef;
};

Reference run_reference(const cv::Mat& masks, const std::vector<float>& scores, const LimeOptions& opts,
                        const std::filesystem::path& dir) {
  NpyWriter m((dir / "masks.npy").string(), masks.rows, masks.cols);
  for (int i = 0; i < masks.rows; ++i) m.write_row({masks.ptr<float>(i), size_t(masks.cols)});
  m.close();
  NpyWriter s((dir / "scores.npy").string(), int64_t(scores.size()), 1);
  for (float v : scores) s.write_row({&v, 1});
  s.close();
  const std::string cmd = std::string("/usr/bin/python3 ") + IRBIS_SOURCE_DIR + "/tests/analysis/lime_reference.py " +
                          (dir / "masks.npy").string() + " " + (dir / "scores.npy").string() + " " +
                          std::to_string(opts.kernel_width) + " " + std::to_string(opts.ridge);
  FILE* p = popen(cmd.c_str(), "r");
  EXPECT_NE(p, nullptr);
  std::string out;
  char buf[4096];
  for (size_t n; p && (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  const int rc = p ? pclose(p) : -1;
  EXPECT_EQ(rc, 0) << cmd << " failed (needs python3-numpy and python3-sklearn): " << out;
  Reference r;
  if (rc != 0) return r;
  const auto j = nlohmann::json::parse(out);
  r.intercept = j.at("intercept").get<double>();
  r.coef = j.at("coef").get<std::vector<double>>();
  return r;
}

// A classifier's probability for the explained class as a function of which superpixels are
// shown: a few strong regions, an interaction and noise, squashed by a logistic. Non-linear, so
// the locality weighting changes the fitted slope.
std::vector<float> synthetic_scores(const cv::Mat& masks, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0, 0.3), effect(0, 1);
  std::vector<double> a(size_t(masks.cols));
  for (auto& v : a) v = effect(rng);
  a[0] = 3, a[1] = 2.5;
  std::vector<float> y(size_t(masks.rows));
  for (int i = 0; i < masks.rows; ++i) {
    const float* z = masks.ptr<float>(i);
    double t = -4;
    for (int s = 0; s < masks.cols; ++s) t += a[size_t(s)] * z[s];
    t += 4 * z[2] * z[3];
    y[size_t(i)] = float(1 / (1 + std::exp(-(t + noise(rng)))));
  }
  return y;
}

}  // namespace

TEST(LimeReference, LocalModelMatchesTheLimePackageDefinitions) {
  test::TempDir tmp("lime_reference");
  for (const auto& [samples, superpixels, seed, width] :
       std::vector<std::tuple<int, int, uint64_t, double>>{{1000, 50, 1, 0.25}, {300, 12, 7, 0.25}, {500, 30, 3, 0.5}}) {
    SCOPED_TRACE(std::to_string(samples) + " samples, " + std::to_string(superpixels) + " superpixels, width " +
                 std::to_string(width));
    LimeOptions opts;
    opts.kernel_width = width;
    const cv::Mat masks = lime_masks(samples, superpixels, seed);
    ASSERT_EQ(masks.rows, samples);
    ASSERT_EQ(masks.cols, superpixels);
    for (int s = 0; s < superpixels; ++s) ASSERT_EQ(masks.at<float>(0, s), 1.f) << "row 0 shows everything";
    const std::vector<float> scores = synthetic_scores(masks, seed);
    const std::vector<double> y(scores.begin(), scores.end());
    double intercept = 0, r2 = 0;
    const std::vector<double> got = fit_lime(masks, y, opts, &intercept, &r2);
    const Reference ref = run_reference(masks, scores, opts, tmp.path());
    ASSERT_EQ(ref.coef.size(), got.size());
    double scale = 0, worst = 0;
    for (size_t s = 0; s < got.size(); ++s) {
      scale = std::max(scale, std::abs(ref.coef[s]));
      worst = std::max(worst, std::abs(got[s] - ref.coef[s]));
    }
    EXPECT_LT(worst, 1e-6 * scale) << "fit_lime differs from the reference by " << worst;
    EXPECT_NEAR(intercept, ref.intercept, 1e-6 * std::max(1.0, std::abs(ref.intercept)));

    // The same fit without the distance weighting is far from the reference: the comparison above
    // can see it.
    const std::vector<double> ones(size_t(samples), 1.0);
    const std::vector<double> flat = weighted_ridge(masks, y, ones, opts.ridge, nullptr, nullptr);
    double flat_diff = 0;
    for (size_t s = 0; s < got.size(); ++s) flat_diff = std::max(flat_diff, std::abs(flat[s] - ref.coef[s]));
    EXPECT_GT(flat_diff, 1e-3 * scale) << "unweighted ridge is as close as the weighted one: the data cannot tell them apart";
  }
}

// The blocks-sqrt-rff classifier input: random Fourier features (the map, its kernel, its
// parameters in a .clf) and cross-validation choosing it only where a non-linear boundary wins.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "irbis/classifier.h"
#include "irbis/errors.h"
#include "test_util.h"

using namespace irbis;

namespace {

// Two classes on concentric rings in the first two of D dimensions (radius 1 and 2, the rest
// noise): no linear boundary separates them, a Gaussian kernel does.
cv::Mat rings(int n, int D, uint64_t seed, std::vector<int>& y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> angle(0.f, 6.2831853f);
  std::normal_distribution<float> g(0.f, 1.f);
  cv::Mat X(n, D, CV_32F);
  y.clear();
  for (int i = 0; i < n; ++i) {
    const int c = i % 2;
    const float r = (c ? 2.f : 1.f) + 0.15f * g(rng), a = angle(rng);
    X.at<float>(i, 0) = r * std::cos(a);
    X.at<float>(i, 1) = r * std::sin(a);
    for (int d = 2; d < D; ++d) X.at<float>(i, d) = 0.1f * g(rng);
    y.push_back(c);
  }
  return X;
}

}  // namespace

TEST(RandomFeatures, SameSeedSameMapAndTheKernelIsApproximated) {
  const RandomFeatures a = make_random_features(5, 4096, 7, 1.5), b = make_random_features(5, 4096, 7, 1.5);
  EXPECT_EQ(cv::norm(a.W, b.W, cv::NORM_INF), 0.0);
  EXPECT_EQ(cv::norm(a.b, b.b, cv::NORM_INF), 0.0);
  const RandomFeatures other = make_random_features(5, 4096, 8, 1.5);
  EXPECT_GT(cv::norm(a.W, other.W, cv::NORM_INF), 0.1);
  // z(x)·z(x') ~ exp(-|x - x'|^2 / (2 sigma^2)): within 0.05 at 4096 features (sd ~ 0.016).
  const cv::Mat X = (cv::Mat_<float>(4, 5) << 0, 0, 0, 0, 0,  //
                     0.5f, 0, 0, 0, 0,                        //
                     1, 1, 0, 0, 0,                           //
                     3, -2, 1, 0, 1);
  const cv::Mat Z = a.map(X);
  ASSERT_EQ(Z.rows, 4);
  ASSERT_EQ(Z.cols, 4096);
  for (int i = 0; i < 4; ++i)
    for (int j = i; j < 4; ++j) {
      const double d2 = cv::norm(X.row(i), X.row(j), cv::NORM_L2SQR);
      EXPECT_NEAR(Z.row(i).dot(Z.row(j)), std::exp(-d2 / (2 * 1.5 * 1.5)), 0.05) << i << "," << j;
    }
  // The parameters are the map: rebuilt from JSON, the same rows.
  const RandomFeatures c = RandomFeatures::from_json(a.to_json());
  EXPECT_EQ(cv::norm(c.map(X), Z, cv::NORM_INF), 0.0);
  EXPECT_THROW(a.map(cv::Mat(1, 4, CV_32F, cv::Scalar(0))), ModelError);
  EXPECT_THROW(RandomFeatures::from_json({{"dim", 8}}), ModelError);
  EXPECT_THROW(make_random_features(5, 8, 1, 0.0), UsageError);
}

TEST(RandomFeatures, MedianRowDistance) {
  // Rows 0, 1, 3 on a line: distances 1, 2, 3 -> median 2.
  const cv::Mat X = (cv::Mat_<float>(3, 2) << 0, 0, 1, 0, 3, 0);
  EXPECT_DOUBLE_EQ(median_row_distance(X), 2.0);
  EXPECT_DOUBLE_EQ(median_row_distance(cv::Mat(4, 3, CV_32F, cv::Scalar(2))), 1.0);  // all equal: 1
  EXPECT_DOUBLE_EQ(median_row_distance(cv::Mat(1, 3, CV_32F, cv::Scalar(2))), 1.0);
}

TEST(RandomFeatures, CrossValidationChoosesThemOnlyWhereTheyWin) {
  const std::vector<std::string> classes = {"inner", "outer"};
  TrainOptions opts;
  opts.calibrate = false;
  {
    // Rings: the linear model is at chance, the random-feature candidate separates them.
    std::vector<int> y;
    const cv::Mat X = rings(400, 4, 5, y);
    const std::vector<ClassifierCandidate> c = {{ClassifierInput::blocks_sqrt, X, {}}, random_feature_candidate(X)};
    const TrainResult tr = train_classifier(c, y, classes, opts);
    ASSERT_EQ(tr.input_scores.size(), 2u);
    EXPECT_LT(tr.input_scores[0].accuracy, 0.7);
    EXPECT_GT(tr.input_scores[1].accuracy, 0.9);
    EXPECT_EQ(tr.input, ClassifierInput::blocks_sqrt_rff);
    EXPECT_FALSE(tr.rff.empty());
    EXPECT_GT(tr.test_eval.accuracy, 0.9);
  }
  {
    // Linearly separable blobs: the linear candidate is as good and comes first, so it is kept.
    std::mt19937_64 rng(3);
    std::normal_distribution<float> g(0.f, 1.f);
    cv::Mat X(200, 4, CV_32F);
    std::vector<int> y;
    for (int i = 0; i < X.rows; ++i) {
      y.push_back(i % 2);
      for (int d = 0; d < 4; ++d) X.at<float>(i, d) = (y.back() ? 4.f : -4.f) * (d == 0) + g(rng);
    }
    const std::vector<ClassifierCandidate> c = {{ClassifierInput::blocks_sqrt, X, {}}, random_feature_candidate(X)};
    const TrainResult tr = train_classifier(c, y, classes, opts);
    EXPECT_EQ(tr.input, ClassifierInput::blocks_sqrt);
    EXPECT_TRUE(tr.rff.empty());
  }
}

TEST(RandomFeatures, ClassifierFileKeepsTheMap) {
  std::vector<int> y;
  const cv::Mat X = rings(200, 3, 9, y);
  const ClassifierCandidate cand = random_feature_candidate(X);
  TrainOptions opts;
  opts.l2 = 1e-3;
  opts.calibrate = false;
  const TrainResult tr = train_classifier({cand}, y, {"inner", "outer"}, opts);
  ModelCard card;
  card.name = "m";
  card.blocks = {{"a", "ta", 3}};
  card.descriptor = {"a"};
  const Classifier clf = make_classifier(card, {"inner", "outer"}, tr, opts, 0, {});
  ASSERT_EQ(clf.heads[0].input, ClassifierInput::blocks_sqrt_rff);
  EXPECT_EQ(clf.report["random_features"]["dim"], kRandomFeatureDim);
  test::TempDir tmp("rffclf");
  clf.save(tmp / "r.clf");
  const Classifier back = Classifier::load(tmp / "r.clf");
  ASSERT_EQ(back.heads[0].input, ClassifierInput::blocks_sqrt_rff);
  EXPECT_EQ(back.heads[0].rff.sigma, clf.heads[0].rff.sigma);
  // Same probabilities for new rows through the reloaded map.
  std::vector<int> y2;
  const cv::Mat fresh = rings(20, 3, 10, y2);
  const cv::Mat p1 = clf.predict_proba(std::vector<cv::Mat>{clf.heads[0].rff.map(fresh)}),
                p2 = back.predict_proba(std::vector<cv::Mat>{back.heads[0].rff.map(fresh)});
  EXPECT_LT(cv::norm(p1, p2, cv::NORM_INF), 1e-6);
  EXPECT_NO_THROW(back.heads[0].check_embedder(card));
  ModelCard wider = card;
  wider.blocks = {{"a", "ta", 4}};
  EXPECT_THROW(back.heads[0].check_embedder(wider), ModelError);
}

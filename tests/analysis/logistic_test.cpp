#include <gtest/gtest.h>

#include <random>

#include "irbis/classifier.h"
#include "irbis/errors.h"

using namespace irbis;

namespace {
// K Gaussian blobs in D dims, n per class (class c has count[c]).
void blobs(const std::vector<int>& count, int D, double spread, uint64_t seed, cv::Mat& X, std::vector<int>& y) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  const int K = int(count.size());
  cv::Mat centres(K, D, CV_32F);
  for (int k = 0; k < K; ++k)
    for (int d = 0; d < D; ++d) centres.at<float>(k, d) = g(rng) * 3.f;
  int n = 0;
  for (int c : count) n += c;
  X.create(n, D, CV_32F);
  y.clear();
  int r = 0;
  for (int k = 0; k < K; ++k)
    for (int i = 0; i < count[size_t(k)]; ++i, ++r) {
      for (int d = 0; d < D; ++d) X.at<float>(r, d) = centres.at<float>(k, d) + float(spread) * g(rng);
      y.push_back(k);
    }
}
}  // namespace

TEST(Logistic, SeparatesBlobsAndProbabilitiesSumToOne) {
  cv::Mat X;
  std::vector<int> y;
  blobs({60, 60, 60}, 20, 1.0, 3, X, y);
  const LogisticModel m = fit_logistic(X, y, 3, {});
  const cv::Mat P = m.predict_proba(X);
  ASSERT_EQ(P.rows, X.rows);
  ASSERT_EQ(P.cols, 3);
  for (int i = 0; i < P.rows; ++i) EXPECT_NEAR(cv::sum(P.row(i))[0], 1.0, 1e-5);
  const auto pred = argmax_rows(P);
  int ok = 0;
  for (size_t i = 0; i < y.size(); ++i) ok += pred[i] == y[i];
  EXPECT_GE(ok, int(y.size()) - 2);
  EXPECT_GT(m.iterations, 0);
}

TEST(Logistic, StrongerPenaltyGivesSmallerWeights) {
  cv::Mat X;
  std::vector<int> y;
  blobs({40, 40}, 10, 2.0, 5, X, y);
  FitOptions a, b;
  a.l2 = 1e-3;
  b.l2 = 1.0;
  EXPECT_GT(cv::norm(fit_logistic(X, y, 2, a).W), 2 * cv::norm(fit_logistic(X, y, 2, b).W));
}

TEST(Logistic, ClassWeightsHelpTheSmallClass) {
  // Overlapping blobs, 20:1 imbalance: balanced weights must raise the minority recall.
  cv::Mat X;
  std::vector<int> y;
  blobs({400, 20}, 4, 4.0, 11, X, y);
  FitOptions plain, balanced;
  plain.balanced = false;
  balanced.balanced = true;
  auto recall1 = [&](const FitOptions& o) {
    const auto pred = argmax_rows(fit_logistic(X, y, 2, o).predict_proba(X));
    return evaluate(y, pred, 2).per_class[1].recall;
  };
  EXPECT_GT(recall1(balanced), recall1(plain));
}

TEST(Logistic, ConstantColumnsAndBadInput) {
  cv::Mat X;
  std::vector<int> y;
  blobs({30, 30}, 5, 1.0, 2, X, y);
  X.col(2).setTo(0.5f);  // zero variance: scale 0, no NaN
  const LogisticModel m = fit_logistic(X, y, 2, {});
  EXPECT_TRUE(cv::checkRange(m.W));
  EXPECT_THROW(fit_logistic(X, std::vector<int>(y.size(), 5), 2, {}), UsageError);
  EXPECT_THROW(m.predict_proba(cv::Mat::zeros(1, 4, CV_32F)), UsageError);
}

#include <gtest/gtest.h>

#include "irbis/cluster.h"
#include "irbis/errors.h"

using namespace irbis;

// Reference values from scikit-learn 1.2.1 (Debian python3-sklearn), computed once with:
//   /usr/bin/python3 -c "
//   from sklearn.metrics import normalized_mutual_info_score as nmi, adjusted_rand_score as ari
//   from sklearn.metrics.cluster import contingency_matrix
//   for t, p in [CASE_A, CASE_B, CASE_C, CASE_D]:
//       c = contingency_matrix(t, p); print(c.max(axis=0).sum() / c.sum(), nmi(t, p), ari(t, p))"
// (purity = sum over predicted clusters of the largest true class, divided by n).
struct MetricCase {
  std::vector<int> truth, pred;
  double purity, nmi, ari;
};

TEST(LabelMetrics, MatchScikitLearn) {
  const std::vector<MetricCase> cases = {
      {{0, 0, 0, 1, 1, 1, 2, 2, 2}, {0, 0, 1, 1, 1, 2, 2, 2, 2}, 0.7777777777777778, 0.5895098274473048,
       0.35714285714285715},
      {{0, 0, 1, 1, 2, 2, 3, 3, 3, 3}, {1, 1, 0, 0, 0, 0, 2, 2, 3, 3}, 0.8, 0.7918756684685216, 0.4444444444444444},
      {{5, 5, 5, 7, 7, 7, 7, 9, 9, 9, 9, 9}, {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 0.4166666666666667,
       0.025467900506156563, -0.10315186246418338},
      {{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, {0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}, 0.5, 0.053605369642813865,
       -0.14583333333333334},
  };
  for (const auto& c : cases) {
    const LabelScores s = label_scores(c.truth, c.pred);
    EXPECT_NEAR(s.purity, c.purity, 1e-12);
    EXPECT_NEAR(s.nmi, c.nmi, 1e-12);
    EXPECT_NEAR(s.ari, c.ari, 1e-12);
  }
}

TEST(LabelMetrics, PerfectAndPermutedLabellings) {
  const std::vector<int> t = {0, 0, 1, 1, 2, 2};
  const std::vector<int> p = {7, 7, 3, 3, 9, 9};
  EXPECT_DOUBLE_EQ(purity_score(t, p), 1.0);
  EXPECT_NEAR(nmi_score(t, p), 1.0, 1e-12);
  EXPECT_NEAR(adjusted_rand_score(t, p), 1.0, 1e-12);
}

TEST(LabelMetrics, LimitCasesLikeScikitLearn) {
  const std::vector<int> one = {0, 0, 0, 0};
  EXPECT_DOUBLE_EQ(nmi_score(one, one), 1.0);            // both a single cluster
  EXPECT_DOUBLE_EQ(adjusted_rand_score(one, one), 1.0);
  const std::vector<int> split = {0, 1, 2, 3};
  EXPECT_DOUBLE_EQ(nmi_score(one, split), 0.0);          // no shared information
  EXPECT_DOUBLE_EQ(adjusted_rand_score(split, split), 1.0);
  EXPECT_THROW(label_scores(one, std::vector<int>{0, 1}), UsageError);
}

TEST(LabelMetrics, EncodesStringsInOrderOfAppearance) {
  EXPECT_EQ(encode_labels({"cats", "dogs", "cats", "birds"}), (std::vector<int>{0, 1, 0, 2}));
}

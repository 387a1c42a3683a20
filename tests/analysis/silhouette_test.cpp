#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"

using namespace irbis;

namespace {
// Direct O(n^2) definition in double precision (Rousseeuw 1987).
std::vector<double> brute_force(const std::vector<float>& x, int64_t n, int d, const std::vector<int>& lab) {
  int k = 0;
  for (int l : lab) k = std::max(k, l + 1);
  std::vector<double> s(n);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<double> sum(k, 0.0);
    std::vector<int> cnt(k, 0);
    for (int64_t j = 0; j < n; ++j) {
      if (j == i) continue;
      double d2 = 0;
      for (int c = 0; c < d; ++c) d2 += (double(x[i * d + c]) - x[j * d + c]) * (double(x[i * d + c]) - x[j * d + c]);
      sum[lab[j]] += std::sqrt(d2);
      ++cnt[lab[j]];
    }
    if (cnt[lab[i]] == 0) { s[i] = 0; continue; }
    const double a = sum[lab[i]] / cnt[lab[i]];
    double b = std::numeric_limits<double>::infinity();
    for (int c = 0; c < k; ++c)
      if (c != lab[i] && cnt[c] > 0) b = std::min(b, sum[c] / cnt[c]);
    s[i] = (b - a) / std::max(a, b);
  }
  return s;
}
}  // namespace

TEST(Silhouette, MatchesBruteForce) {
  const int64_t n = 700;  // > one 256-row block
  const int d = 10;
  const auto x = analysis::make_blobs(n, d, 4, 3.0, 21);
  KMeansParams p;
  p.k = 4;
  auto lab = kmeans(MatrixView(x.data(), n, d), p).labels;
  lab[0] = 4;  // a singleton cluster scores 0
  const auto ref = brute_force(x, n, d, lab);
  const auto got = silhouette_samples(MatrixView(x.data(), n, d), lab);
  double mean = 0;
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(got[i], ref[i], 2e-4) << i;
    mean += ref[i];
  }
  EXPECT_EQ(got[0], 0.0f);
  EXPECT_NEAR(silhouette_score(MatrixView(x.data(), n, d), lab, 0), mean / n, 1e-4);
  EXPECT_NEAR(silhouette_score(MatrixView(x.data(), n, d), lab, 5000), mean / n, 1e-4);  // n below sample: exact
}

TEST(Silhouette, SampledScoreIsCloseAndSeeded) {
  const int64_t n = 3000;
  const int d = 8;
  std::vector<int> lab;
  const auto x = analysis::make_blobs(n, d, 5, 2.0, 22, &lab);
  const MatrixView v(x.data(), n, d);
  const double exact = silhouette_score(v, lab, 0);
  const double a = silhouette_score(v, lab, 1000, 5), b = silhouette_score(v, lab, 1000, 5);
  EXPECT_EQ(a, b);
  EXPECT_NEAR(a, exact, 0.03);
}

TEST(Silhouette, SweepEqualsSingleLabellings) {
  const int64_t n = 400;
  const auto x = analysis::make_blobs(n, 5, 3, 2.0, 23);
  std::vector<std::vector<int>> labs;
  for (int k : {2, 3, 6}) {
    KMeansParams p;
    p.k = k;
    labs.push_back(kmeans(MatrixView(x.data(), n, 5), p).labels);
  }
  const auto all = silhouette_scores(MatrixView(x.data(), n, 5), {labs[0], labs[1], labs[2]});
  for (size_t t = 0; t < labs.size(); ++t)
    EXPECT_NEAR(all[t], silhouette_score(MatrixView(x.data(), n, 5), labs[t]), 1e-6);
}

TEST(Silhouette, BadLabellingsAndDegenerateData) {
  const auto x = analysis::make_uniform(10, 2, 3);
  const MatrixView v(x.data(), 10, 2);
  EXPECT_THROW(silhouette_score(v, std::vector<int>(10, 0)), UsageError);     // one cluster
  std::vector<int> each(10);
  for (int i = 0; i < 10; ++i) each[i] = i;
  EXPECT_THROW(silhouette_score(v, each), UsageError);                        // n clusters
  EXPECT_THROW(silhouette_score(v, std::vector<int>(9, 0)), UsageError);      // wrong length
  const std::vector<float> same(20 * 3, 2.0f);
  std::vector<int> lab(20);
  for (int i = 0; i < 20; ++i) lab[i] = i % 2;
  const double s = silhouette_score(MatrixView(same.data(), 20, 3), lab);
  EXPECT_TRUE(std::isfinite(s));
  EXPECT_NEAR(s, 0.0, 1e-6);
}

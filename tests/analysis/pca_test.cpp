#include <gtest/gtest.h>

#include <cmath>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"

using namespace irbis;

TEST(Pca, FindsTheDominantDirectionsInOrder) {
  // Points spread 10x along (1, 1, 0)/sqrt2 and 3x along z, 0.1x along (1, -1, 0)/sqrt2.
  analysis::Rng rng(5);
  const int64_t n = 2000;
  std::vector<float> x(n * 3);
  for (int64_t i = 0; i < n; ++i) {
    const double a = 10 * rng.normal(), b = 0.1 * rng.normal(), c = 3 * rng.normal();
    x[i * 3] = static_cast<float>((a + b) / std::sqrt(2.0) + 5);
    x[i * 3 + 1] = static_cast<float>((a - b) / std::sqrt(2.0) - 2);
    x[i * 3 + 2] = static_cast<float>(c);
  }
  const auto y = pca_project(MatrixView(x.data(), n, 3), 2);
  double v0 = 0, v1 = 0, m0 = 0, corr = 0;
  for (int64_t i = 0; i < n; ++i) {
    m0 += y[2 * i];
    v0 += y[2 * i] * y[2 * i];
    v1 += y[2 * i + 1] * y[2 * i + 1];
    corr += y[2 * i + 1] * x[i * 3 + 2];
  }
  EXPECT_NEAR(m0 / n, 0.0, 1e-3);                 // centred
  EXPECT_NEAR(std::sqrt(v0 / n), 10.0, 0.5);      // first component: the long axis
  EXPECT_NEAR(std::sqrt(v1 / n), 3.0, 0.2);       // second: z
  EXPECT_GT(std::fabs(corr) / n, 8.0);
}

TEST(Pca, WideDataUsesSubspaceIteration) {
  const int64_t n = 300;
  const int d = 600;  // above the dense eigen-solver limit
  std::vector<int> lab;
  const auto x = analysis::make_blobs(n, d, 2, 1.0, 4, &lab);
  const auto y = pca_project(MatrixView(x.data(), n, d), 2);
  // The two blobs separate on the first component.
  double m[2] = {0, 0};
  for (int64_t i = 0; i < n; ++i) m[lab[i]] += y[2 * i] / (n / 2.0);
  EXPECT_GT(std::fabs(m[0] - m[1]), 50.0);
}

TEST(Pca, DegenerateInputsAreFinite) {
  const std::vector<float> one = {1, 2};
  EXPECT_EQ(pca_project(MatrixView(one.data(), 1, 2)), (std::vector<float>{0, 0}));
  const std::vector<float> same(10 * 4, 1.5f);
  for (float v : pca_project(MatrixView(same.data(), 10, 4))) EXPECT_EQ(v, 0.0f);
  const std::vector<float> narrow = {1, 2, 3};  // d = 1 < 2 components
  const auto y = pca_project(MatrixView(narrow.data(), 3, 1));
  EXPECT_EQ(y.size(), 6u);
  EXPECT_EQ(y[1], 0.0f);
}

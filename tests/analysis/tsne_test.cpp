#include <gtest/gtest.h>

#include <cmath>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"

using namespace irbis;

namespace {
// Fraction of points whose nearest neighbour in the map carries the same label.
double nn_agreement(const std::vector<float>& y, const std::vector<int>& lab) {
  const size_t n = lab.size();
  size_t ok = 0;
  for (size_t i = 0; i < n; ++i) {
    double best = 1e300;
    size_t bj = i;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      const double dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1], d2 = dx * dx + dy * dy;
      if (d2 < best) { best = d2; bj = j; }
    }
    ok += lab[bj] == lab[i];
  }
  return static_cast<double>(ok) / n;
}

void expect_finite(const std::vector<float>& y) {
  for (float v : y) ASSERT_TRUE(std::isfinite(v));
}
}  // namespace

TEST(Tsne, ExactKeepsBlobsApartAndIsDeterministic) {
  std::vector<int> lab;
  const int64_t n = 500;
  const int d = 64;  // wider than pca_dims: exercises the PCA reduction too
  const auto x = analysis::make_blobs(n, d, 5, 1.0, 31, &lab, 8.0);
  TsneParams p;
  p.iterations = 500;
  const auto a = tsne(MatrixView(x.data(), n, d), p);
  const auto b = tsne(MatrixView(x.data(), n, d), p);
  ASSERT_EQ(a.size(), static_cast<size_t>(2 * n));
  expect_finite(a);
  EXPECT_EQ(a, b);
  EXPECT_GT(nn_agreement(a, lab), 0.95);
  p.seed = 2;
  EXPECT_NE(tsne(MatrixView(x.data(), n, d), p), a);
}

TEST(Tsne, BarnesHutKeepsBlobsApartAndIsDeterministic) {
  std::vector<int> lab;
  const int64_t n = 2500;
  const int d = 16;
  const auto x = analysis::make_blobs(n, d, 7, 1.0, 32, &lab, 8.0);
  TsneParams p;
  p.iterations = 400;
  p.exact_max = 1000;  // force Barnes-Hut
  const auto a = tsne(MatrixView(x.data(), n, d), p);
  const auto b = tsne(MatrixView(x.data(), n, d), p);
  expect_finite(a);
  EXPECT_EQ(a, b);
  EXPECT_GT(nn_agreement(a, lab), 0.95);
}

TEST(Tsne, TinyAndDegenerateInputs) {
  const std::vector<float> one = {1, 2, 3};
  EXPECT_EQ(tsne(MatrixView(one.data(), 1, 3)), (std::vector<float>{0, 0}));
  const std::vector<float> two = {0, 0, 0, 1, 1, 1};
  const auto y2 = tsne(MatrixView(two.data(), 2, 3));
  ASSERT_EQ(y2.size(), 4u);
  expect_finite(y2);
  const std::vector<float> same(40 * 5, 3.0f);
  TsneParams p;
  p.iterations = 300;
  expect_finite(tsne(MatrixView(same.data(), 40, 5), p));
  p.exact_max = 10;  // Barnes-Hut with all points coincident
  expect_finite(tsne(MatrixView(same.data(), 40, 5), p));
  // Half the points duplicated, one dimension.
  std::vector<float> line(30);
  for (int i = 0; i < 30; ++i) line[i] = static_cast<float>(i % 15);
  expect_finite(tsne(MatrixView(line.data(), 30, 1), p));
}

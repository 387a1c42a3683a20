#include <gtest/gtest.h>

#include <cmath>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"

using namespace irbis;

TEST(KMeans, RecoversSeparatedBlobs) {
  std::vector<int> truth;
  const int64_t n = 900;
  const int d = 16;
  const auto x = analysis::make_blobs(n, d, 3, 1.0, 42, &truth, 8.0);
  KMeansParams p;
  p.k = 3;
  const KMeansResult r = kmeans(MatrixView(x.data(), n, d), p);
  EXPECT_EQ(r.k, 3);
  ASSERT_EQ(r.labels.size(), static_cast<size_t>(n));
  ASSERT_EQ(r.centroids.size(), static_cast<size_t>(3 * d));
  EXPECT_NEAR(adjusted_rand_score(truth, r.labels), 1.0, 1e-12);
  // Inertia is the sum of the squared distances reported per item, about n * d * spread^2.
  double s = 0;
  for (float v : r.distances) s += static_cast<double>(v) * v;
  EXPECT_NEAR(r.inertia, s, 1e-3 * s);
  EXPECT_NEAR(r.inertia / (n * d), 1.0, 0.1);
}

TEST(KMeans, DeterministicForASeed) {
  const auto x = analysis::make_blobs(500, 8, 5, 2.0, 7);
  KMeansParams p;
  p.k = 5;
  p.seed = 3;
  const auto a = kmeans(MatrixView(x.data(), 500, 8), p), b = kmeans(MatrixView(x.data(), 500, 8), p);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.centroids, b.centroids);
}

TEST(KMeans, RandomInitWithNredoAlsoWorks) {
  std::vector<int> truth;
  const auto x = analysis::make_blobs(600, 8, 4, 1.0, 9, &truth, 8.0);
  KMeansParams p;
  p.k = 4;
  p.init = KMeansInit::random;
  p.restarts = 8;
  EXPECT_GT(adjusted_rand_score(truth, kmeans(MatrixView(x.data(), 600, 8), p).labels), 0.95);
}

TEST(KMeans, BadK) {
  const auto x = analysis::make_uniform(10, 3, 1);
  KMeansParams p;
  p.k = 11;
  EXPECT_THROW(kmeans(MatrixView(x.data(), 10, 3), p), UsageError);
  p.k = 0;
  EXPECT_THROW(kmeans(MatrixView(x.data(), 10, 3), p), UsageError);
  p.k = 1;
  EXPECT_THROW(kmeans(MatrixView(x.data(), 0, 3), p), UsageError);
}

TEST(KMeans, SingleItemAndKEqualsN) {
  const std::vector<float> one = {1, 2, 3};
  KMeansParams p;
  p.k = 1;
  const auto r = kmeans(MatrixView(one.data(), 1, 3), p);
  EXPECT_EQ(r.labels, std::vector<int>{0});
  EXPECT_FLOAT_EQ(r.distances[0], 0.0f);
  EXPECT_EQ(r.centroids, one);
  const auto x = analysis::make_uniform(6, 2, 5);
  p.k = 6;
  const auto all = kmeans(MatrixView(x.data(), 6, 2), p);
  EXPECT_NEAR(all.inertia, 0.0, 1e-9);
}

TEST(KMeans, IdenticalRowsGiveNoNaN) {
  const std::vector<float> x(50 * 4, 0.5f);
  KMeansParams p;
  p.k = 3;
  const auto r = kmeans(MatrixView(x.data(), 50, 4), p);
  for (float v : r.centroids) EXPECT_TRUE(std::isfinite(v));
  for (float v : r.distances) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(r.inertia, 0.0);
}

TEST(KMeans, SeedsOnASampleForLargeInputs) {
  std::vector<int> truth;
  const int64_t n = 25000;  // above the 20000-item seeding sample
  const auto x = analysis::make_blobs(n, 4, 6, 0.5, 77, &truth, 6.0);
  KMeansParams p;
  p.k = 6;
  p.restarts = 2;
  const auto r = kmeans(MatrixView(x.data(), n, 4), p);
  EXPECT_NEAR(adjusted_rand_score(truth, r.labels), 1.0, 1e-9);
}

// Lloyd's fixed point, checked by brute force: with bounds skipping most distance computations
// (Hamerly), every label must still be the nearest centroid, every distance exact, and a
// converged run's centroids the means of their items.
TEST(KMeans, BoundedLloydMatchesBruteForce) {
  const int64_t n = 3000;
  const int d = 12, k = 9;
  const auto x = analysis::make_blobs(n, d, 6, 2.5, 5);  // overlapping: many items change centre
  for (int iterations : {2, 200}) {
    KMeansParams p;
    p.k = k;
    p.restarts = 2;
    p.iterations = iterations;
    p.tolerance = 0;
    const auto r = kmeans(MatrixView(x.data(), n, d), p);
    std::vector<double> mean(static_cast<size_t>(k) * d, 0.0);
    std::vector<int64_t> count(k, 0);
    double inertia = 0;
    for (int64_t i = 0; i < n; ++i) {
      double best = 1e300;
      for (int j = 0; j < k; ++j) {
        double s = 0;
        for (int t = 0; t < d; ++t) {
          const double e = x[i * d + t] - r.centroids[j * d + t];
          s += e * e;
        }
        best = std::min(best, s);
        if (j == r.labels[i]) {
          EXPECT_NEAR(std::sqrt(s), r.distances[i], 1e-3) << "item " << i;
        }
      }
      double own = static_cast<double>(r.distances[i]) * r.distances[i];
      EXPECT_LE(own, best + 1e-3) << "item " << i << " is not at its nearest centroid";
      inertia += own;
      ++count[r.labels[i]];
      for (int t = 0; t < d; ++t) mean[r.labels[i] * d + t] += x[i * d + t];
    }
    EXPECT_NEAR(r.inertia, inertia, 1e-6 * inertia);
    if (iterations != 200) continue;
    for (int j = 0; j < k; ++j) {
      ASSERT_GT(count[j], 0);
      for (int t = 0; t < d; ++t) EXPECT_NEAR(mean[j * d + t] / count[j], r.centroids[j * d + t], 1e-4);
    }
  }
}

// The low-memory (streamed) cluster analysis against the in-memory one, and its memory contract.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"
#include "irbis/errors.h"

using namespace irbis;

namespace {

// A RowSource over an in-memory matrix that records how many rows each read asked for.
struct CountingSource {
  const std::vector<float>* x;
  int d;
  int64_t max_read = 0, reads = 0;
  RowSource source() {
    return {static_cast<int64_t>(x->size()) / d, d, [this](int64_t first, int64_t count, float* out) {
              max_read = std::max(max_read, count);
              ++reads;
              std::copy_n(x->data() + first * d, count * d, out);
            }};
  }
};

struct Collected {
  std::vector<int> labels;
  std::vector<float> xy, distances;
  int64_t next = 0;
  ClusterSink sink() {
    return [this](const ClusterChunk& c) {
      EXPECT_EQ(c.first, next) << "chunks arrive in item order";
      next += static_cast<int64_t>(c.labels.size());
      labels.insert(labels.end(), c.labels.begin(), c.labels.end());
      xy.insert(xy.end(), c.xy.begin(), c.xy.end());
      distances.insert(distances.end(), c.distances.begin(), c.distances.end());
    };
  }
};

}  // namespace

// With a sample covering every row the streamed model is the in-memory one, so the chunked
// assignment must reproduce the in-memory labels, distances, PCA map and summaries exactly.
TEST(ClusterStream, ChunkedPathMatchesInMemoryOnTheSameCentroids) {
  const int64_t n = 700;
  const int d = 6;
  std::vector<int> truth;
  const auto x = analysis::make_blobs(n, d, 4, 1.5, 21, &truth, 5.0);
  ClusterParams p;
  p.k = 4;
  p.restarts = 2;
  p.map = "pca";
  p.low_memory_sample = static_cast<int>(n);
  const ClusterReport mem = analyze_clusters(MatrixView(x.data(), n, d), p, truth);
  for (int chunk : {1, 13, 256, 5000}) {
    SCOPED_TRACE("chunk " + std::to_string(chunk));
    p.chunk_rows = chunk;
    CountingSource src{&x, d};
    Collected got;
    const ClusterReport s = analyze_clusters_streamed(src.source(), p, truth, got.sink());
    EXPECT_TRUE(s.low_memory);
    EXPECT_EQ(s.items, n);
    EXPECT_EQ(s.trained_on, n);
    EXPECT_EQ(s.kmeans.centroids, mem.kmeans.centroids);
    ASSERT_EQ(got.labels.size(), static_cast<size_t>(n));
    EXPECT_EQ(got.labels, mem.kmeans.labels);
    EXPECT_EQ(s.kmeans.labels, mem.kmeans.labels);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_NEAR(got.distances[i], mem.kmeans.distances[i], 1e-4f * (1 + mem.kmeans.distances[i]));
      EXPECT_NEAR(got.xy[2 * i], mem.map[2 * i], 1e-3f);
      EXPECT_NEAR(got.xy[2 * i + 1], mem.map[2 * i + 1], 1e-3f);
    }
    EXPECT_NEAR(s.kmeans.inertia, mem.kmeans.inertia, 1e-5 * mem.kmeans.inertia);
    ASSERT_EQ(s.clusters.size(), mem.clusters.size());
    for (size_t c = 0; c < s.clusters.size(); ++c) {
      EXPECT_EQ(s.clusters[c].size, mem.clusters[c].size);
      EXPECT_EQ(s.clusters[c].medoid, mem.clusters[c].medoid);
      EXPECT_EQ(s.clusters[c].most_central, mem.clusters[c].most_central);
    }
    ASSERT_TRUE(s.scores.has_value());
    EXPECT_DOUBLE_EQ(s.scores->ari, mem.scores->ari);
    // Never more than one chunk (or one sampled row) per read.
    EXPECT_LE(src.max_read, std::min<int64_t>(chunk, n));
  }
}

// With a real sample (fewer rows than items) the model comes from the sample, every row is still
// assigned to its nearest final centroid, and planted groups are recovered.
TEST(ClusterStream, SampledFitAssignsEveryRowToItsNearestCentroid) {
  const int64_t n = 6000;
  const int d = 8;
  std::vector<int> truth;
  const auto x = analysis::make_blobs(n, d, 5, 1.0, 33, &truth, 8.0);
  ClusterParams p;
  p.auto_k = true;
  p.k_min = 2;
  p.k_max = 8;
  p.restarts = 2;
  p.map = "pca";
  p.low_memory_sample = 500;  // above 50 x k_max, so used as is
  p.chunk_rows = 1000;
  CountingSource src{&x, d};
  Collected got;
  const ClusterReport s = analyze_clusters_streamed(src.source(), p, truth, got.sink());
  EXPECT_EQ(s.trained_on, 500);
  EXPECT_EQ(s.sample_map.size(), 1000u);
  EXPECT_EQ(s.sample_labels.size(), 500u);
  EXPECT_EQ(s.k, 5);
  EXPECT_TRUE(s.clear_structure);
  ASSERT_TRUE(s.scores.has_value());
  EXPECT_NEAR(s.scores->ari, 1.0, 1e-9);
  EXPECT_LE(src.max_read, 1000);
  // Same centroids, all rows at once: the streamed labels and distances.
  std::vector<int> lab(n);
  std::vector<float> dist(n);
  const double inertia = assign_to_centroids(MatrixView(x.data(), n, d), s.kmeans.centroids, s.k, lab, dist);
  EXPECT_EQ(got.labels, lab);
  for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(got.distances[i], dist[i], 1e-4f * (1 + dist[i]));
  EXPECT_NEAR(s.kmeans.inertia, inertia, 1e-5 * inertia);
  int64_t total = 0;
  for (const auto& c : s.clusters) total += c.size;
  EXPECT_EQ(total, n);
  EXPECT_NE(format_k_table(s).find("sample of 500 of 6000"), std::string::npos);
  // The CSV writer for in-memory reports refuses a streamed one (its rows went to the sink).
  std::ostringstream csv;
  std::vector<std::string> names(n, "a.jpg");
  EXPECT_THROW(write_cluster_csv(csv, s, names), UsageError);
  write_cluster_csv_header(csv);
  write_cluster_csv_rows(csv, {0, std::span<const int>(got.labels).first(2), std::span<const float>(got.xy).first(4),
                               std::span<const float>(got.distances).first(2)}, names);
  const std::string text = csv.str();
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
}

TEST(ClusterStream, RefusesWhatCannotStream) {
  const std::vector<float> x = analysis::make_blobs(50, 3, 2, 1.0, 5);
  CountingSource src{&x, 3};
  ClusterParams p;
  p.k = 2;
  p.map = "tsne";
  try {
    analyze_clusters_streamed(src.source(), p, {}, {});
    FAIL() << "t-SNE was streamed";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be streamed"), std::string::npos) << e.what();
  }
  p.map = "pca";
  p.k = 51;  // more than the items, although the sample would be larger than 50 anyway
  try {
    analyze_clusters_streamed(src.source(), p, {}, {});
    FAIL() << "k > n accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("larger than the number of items (50)"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(low_memory_needed(kLowMemoryItems + 1, 2));
  EXPECT_TRUE(low_memory_needed(kLowMemoryBytes / 4 / 1000 + 1, 1000));
  EXPECT_FALSE(low_memory_needed(1000, 1000));
}

// Summaries, checked by brute force: the 5 items nearest the centroid, and the medoid as the one of
// the 20 nearest with the least summed distance to its cluster.
TEST(ClusterSummary, MatchesBruteForce) {
  const int64_t n = 400;
  const int d = 3;
  const auto x = analysis::make_blobs(n, d, 3, 2.0, 77);
  ClusterParams p;
  p.k = 3;
  p.map = "none";
  const ClusterReport r = analyze_clusters(MatrixView(x.data(), n, d), p);
  for (const auto& s : r.clusters) {
    std::vector<int64_t> mem;
    for (int64_t i = 0; i < n; ++i)
      if (r.kmeans.labels[i] == s.cluster) mem.push_back(i);
    std::stable_sort(mem.begin(), mem.end(),
                     [&](int64_t a, int64_t b) { return r.kmeans.distances[a] < r.kmeans.distances[b]; });
    EXPECT_EQ(s.size, static_cast<int64_t>(mem.size()));
    EXPECT_EQ(s.most_central, std::vector<int64_t>(mem.begin(), mem.begin() + 5));
    int64_t medoid = -1;
    double best = 1e300;
    for (size_t t = 0; t < 20 && t < mem.size(); ++t) {
      double tot = 0;
      for (int64_t j : mem) {
        double s2 = 0;
        for (int u = 0; u < d; ++u) s2 += std::pow(double(x[mem[t] * d + u]) - x[j * d + u], 2);
        tot += std::sqrt(s2);
      }
      if (tot < best - 1e-9) { best = tot; medoid = mem[t]; }
    }
    EXPECT_EQ(s.medoid, medoid);
  }
}

// A PCA basis fitted on a sample places the other rows as the full-data PCA does (up to noise).
TEST(PcaBasis, FittedOnASampleProjectsTheRest) {
  const int64_t n = 2000;
  const int d = 5;
  analysis::Rng rng(9);
  std::vector<float> x(n * d);
  for (int64_t i = 0; i < n; ++i) {
    const double a = 10 * rng.normal(), b = 3 * rng.normal();
    // Two orthogonal directions of very different spread, plus a little noise.
    const double u1[d] = {1, 1, 1, 1, 1}, u2[d] = {1, -1, 1, -1, 0};
    for (int j = 0; j < d; ++j) x[i * d + j] = float(a * u1[j] + b * u2[j] + 0.1 * rng.normal());
  }
  const auto full = pca_project(MatrixView(x.data(), n, d));
  const int64_t m = 1000;  // fitted on the first half
  const PcaBasis b = pca_fit(MatrixView(x.data(), m, d));
  std::vector<float> part(n * 2);
  pca_apply(b, MatrixView(x.data(), n, d), part.data());
  // On its own rows the split equals pca_project.
  const auto own = pca_project(MatrixView(x.data(), m, d));
  for (int64_t i = 0; i < 2 * m; ++i) ASSERT_NEAR(part[i], own[i], 1e-4f * (1 + std::fabs(own[i])));
  for (int a = 0; a < 2; ++a) {
    double sxy = 0, sxx = 0, syy = 0;
    for (int64_t i = 0; i < n; ++i) {
      sxy += double(full[2 * i + a]) * part[2 * i + a];
      sxx += double(full[2 * i + a]) * full[2 * i + a];
      syy += double(part[2 * i + a]) * part[2 * i + a];
    }
    EXPECT_GT(std::fabs(sxy) / std::sqrt(sxx * syy), 0.99) << "component " << a;  // signs may differ
  }
  EXPECT_THROW(pca_apply(b, MatrixView(x.data(), 10, 4), part.data()), UsageError);
}

// k-means by FAISS: Lloyd iterations (faiss::Clustering) from a k-means++ seeding (Arthur &
// Vassilvitskii 2007, computed here, seeded per restart) or FAISS's own random init (nredo);
// several restarts, the lowest objective kept; then one exact assignment pass for labels,
// distances and inertia.
#include <algorithm>
#include <cmath>
#include <limits>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

// D^2 sampling: each next centre is drawn with probability proportional to the squared distance to
// the nearest centre chosen so far.
std::vector<float> kmeanspp(MatrixView x, int k, uint64_t seed) {
  const int64_t n = x.n;
  const int d = x.d;
  analysis::Rng rng(seed);
  std::vector<float> c(static_cast<size_t>(k) * d);
  std::vector<float> best(n, std::numeric_limits<float>::infinity());
  int64_t pick = static_cast<int64_t>(rng.below(n));
  for (int a = 0; a < k; ++a) {
    std::copy(x.row(pick), x.row(pick) + d, c.begin() + static_cast<size_t>(a) * d);
    const float* ca = c.data() + static_cast<size_t>(a) * d;
    double total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t i = 0; i < n; ++i) {
      const float* r = x.row(i);
      float s = 0;
      for (int j = 0; j < d; ++j) s += (r[j] - ca[j]) * (r[j] - ca[j]);
      if (s < best[i]) best[i] = s;
      total += best[i];
    }
    if (a + 1 == k) break;
    if (!(total > 0)) {  // every point is already a centre: any point will do
      pick = static_cast<int64_t>(rng.below(n));
      continue;
    }
    const double target = rng.uniform() * total;
    double acc = 0;
    pick = n - 1;
    for (int64_t i = 0; i < n; ++i) {
      acc += best[i];
      if (acc > target && best[i] > 0) { pick = i; break; }
    }
  }
  return c;
}

}  // namespace

KMeansResult kmeans(MatrixView x, const KMeansParams& p) {
  IRBIS_THROW_IF_NOT(x.n >= 1 && x.d >= 1, UsageError, "k-means needs at least one item");
  if (p.k < 1 || p.k > x.n)
    throw UsageError("k = " + std::to_string(p.k) + " is not possible for " + std::to_string(x.n) +
                     " items (need 1 <= k <= number of items)");
  IRBIS_THROW_IF_NOT(p.restarts >= 1 && p.iterations >= 1, UsageError, "restarts and iterations must be >= 1");
  KMeansResult r;
  r.k = p.k;
  r.d = x.d;
  const int64_t n = x.n;
  const int d = x.d;
  // One Lloyd iteration costs ~2 n k d flops; keep small problems on one thread.
  const analysis::SmallWorkSerial serial(2.0 * static_cast<double>(n) * p.k * d);
  if (p.k == 1) {  // closed form: the mean
    r.centroids.assign(d, 0.0f);
    std::vector<double> mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < d; ++j) mean[j] += x.row(i)[j];
    for (int j = 0; j < d; ++j) r.centroids[j] = static_cast<float>(mean[j] / static_cast<double>(n));
  } else {
    faiss::ClusteringParameters cp;
    cp.niter = p.iterations;
    cp.nredo = p.init == KMeansInit::kmeanspp ? 1 : p.restarts;
    cp.seed = static_cast<int>(p.seed & 0x7fffffff);
    cp.verbose = false;
    cp.min_points_per_centroid = 1;  // silences FAISS's "too few points" warning
    cp.max_points_per_centroid =
        p.max_points_per_centroid > 0 ? p.max_points_per_centroid : std::numeric_limits<int>::max() / 2;
    if (p.init == KMeansInit::random) {
      faiss::Clustering clus(d, p.k, cp);
      faiss::IndexFlatL2 index(d);
      clus.train(n, x.data, index);
      r.centroids.assign(clus.centroids.begin(), clus.centroids.end());
    } else {
      double best = std::numeric_limits<double>::infinity();
      for (int run = 0; run < p.restarts; ++run) {
        faiss::Clustering clus(d, p.k, cp);
        clus.centroids = kmeanspp(x, p.k, p.seed * 1000003ull + static_cast<uint64_t>(run));
        faiss::IndexFlatL2 index(d);
        clus.train(n, x.data, index);
        const double obj = clus.iteration_stats.empty() ? 0.0 : clus.iteration_stats.back().obj;
        if (run == 0 || obj < best) {
          best = obj;
          r.centroids.assign(clus.centroids.begin(), clus.centroids.end());
        }
      }
    }
  }
  // Exact final assignment.
  faiss::IndexFlatL2 cindex(d);
  cindex.add(p.k, r.centroids.data());
  std::vector<float> dist2(n);
  std::vector<faiss::Index::idx_t> lab(n);
  cindex.search(n, x.data, 1, dist2.data(), lab.data());
  r.labels.resize(n);
  r.distances.resize(n);
  double inertia = 0;
  for (int64_t i = 0; i < n; ++i) {
    r.labels[i] = lab[i] < 0 ? 0 : static_cast<int>(lab[i]);
    const float d2 = std::isfinite(dist2[i]) ? std::max(0.0f, dist2[i]) : 0.0f;
    r.distances[i] = std::sqrt(d2);
    inertia += d2;
  }
  r.inertia = inertia;
  return r;
}

}  // namespace irbis

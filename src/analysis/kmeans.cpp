// k-means by FAISS (Lloyd iterations, nredo seeded restarts, best objective kept), followed by one
// exact assignment pass for labels, distances and inertia.
#include <algorithm>
#include <cmath>
#include <limits>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {

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
  if (p.k == 1) {  // closed form: the mean
    r.centroids.assign(d, 0.0f);
    std::vector<double> mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < d; ++j) mean[j] += x.row(i)[j];
    for (int j = 0; j < d; ++j) r.centroids[j] = static_cast<float>(mean[j] / static_cast<double>(n));
  } else {
    faiss::ClusteringParameters cp;
    cp.niter = p.iterations;
    cp.nredo = p.restarts;
    cp.seed = static_cast<int>(p.seed & 0x7fffffff);
    cp.verbose = false;
    cp.min_points_per_centroid = 1;  // silences FAISS's "too few points" warning
    cp.max_points_per_centroid =
        p.max_points_per_centroid > 0 ? p.max_points_per_centroid : std::numeric_limits<int>::max() / 2;
    faiss::Clustering clus(d, p.k, cp);
    faiss::IndexFlatL2 index(d);
    clus.train(n, x.data, index);
    r.centroids.assign(clus.centroids.begin(), clus.centroids.end());
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

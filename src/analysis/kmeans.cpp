// k-means by FAISS: Lloyd iterations (faiss::Clustering) from a greedy k-means++ seeding
// (Arthur & Vassilvitskii 2007, computed here, seeded per restart) or FAISS's own random init (nredo);
// several restarts, the lowest objective kept; then one exact assignment pass for labels,
// distances and inertia.
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <limits>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

// Greedy k-means++: each next centre is the best (lowest resulting potential) of 2 + ln k candidates
// drawn with probability proportional to the squared distance to the nearest centre so far. Sums
// run over per-item arrays in index order, so the result does not depend on the thread count.
// Squared distances of every item to `m` candidate rows (n x m, candidate-major) by one sgemm.
void distances_to(MatrixView x, const std::vector<float>& norms, const std::vector<int64_t>& cand,
                  std::vector<float>& cbuf, std::vector<float>& out) {
  const int64_t n = x.n;
  const int d = x.d;
  const int m = static_cast<int>(cand.size());
  cbuf.resize(static_cast<size_t>(m) * d);
  for (int t = 0; t < m; ++t) std::copy(x.row(cand[t]), x.row(cand[t]) + d, cbuf.begin() + static_cast<size_t>(t) * d);
  out.resize(static_cast<size_t>(m) * n);
  // out (m x n) = -2 * C * X^T, then add the norms.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, static_cast<int>(n), d, -2.0f, cbuf.data(), d, x.data, d,
              0.0f, out.data(), static_cast<int>(n));
  for (int t = 0; t < m; ++t) {
    const float nc = norms[cand[t]];
    float* o = out.data() + static_cast<size_t>(t) * n;
#pragma omp parallel for schedule(static) if (n > 20000)
    for (int64_t i = 0; i < n; ++i) o[i] = std::max(0.0f, o[i] + norms[i] + nc);
    o[cand[t]] = 0.0f;
  }
}

std::vector<float> kmeanspp(MatrixView x, int k, uint64_t seed) {
  const int64_t n = x.n;
  const int d = x.d;
  const int trials = 2 + static_cast<int>(std::log(static_cast<double>(k)));
  analysis::Rng rng(seed);
  std::vector<float> norms(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x.row(i);
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(r[j]) * r[j];
    norms[i] = static_cast<float>(s);
  }
  std::vector<float> c(static_cast<size_t>(k) * d), cbuf, cand_d;
  std::vector<int64_t> cand(1, static_cast<int64_t>(rng.below(n)));
  std::copy(x.row(cand[0]), x.row(cand[0]) + d, c.begin());
  distances_to(x, norms, cand, cbuf, cand_d);
  std::vector<float> best(cand_d.begin(), cand_d.begin() + n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += best[i];
  cand.resize(trials);
  for (int a = 1; a < k; ++a) {
    for (int t = 0; t < trials; ++t) {
      if (!(total > 0)) { cand[t] = static_cast<int64_t>(rng.below(n)); continue; }
      const double target = rng.uniform() * total;
      double acc = 0;
      cand[t] = n - 1;
      for (int64_t i = 0; i < n; ++i) {
        acc += best[i];
        if (acc > target && best[i] > 0) { cand[t] = i; break; }
      }
    }
    distances_to(x, norms, cand, cbuf, cand_d);
    int pick = 0;
    double pick_total = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      float* o = cand_d.data() + static_cast<size_t>(t) * n;
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        o[i] = std::min(o[i], best[i]);
        s += o[i];
      }
      if (s < pick_total) { pick_total = s; pick = t; }
    }
    std::copy(x.row(cand[pick]), x.row(cand[pick]) + d, c.begin() + static_cast<size_t>(a) * d);
    std::copy(cand_d.begin() + static_cast<size_t>(pick) * n, cand_d.begin() + static_cast<size_t>(pick + 1) * n,
              best.begin());
    total = pick_total;
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
        // With a tolerance, Lloyd runs one FAISS iteration at a time (each call continues from the
        // current centroids) and stops once the objective improves by less than tol (relative).
        faiss::ClusteringParameters cpi = cp;
        if (p.tolerance > 0) cpi.niter = 1;
        faiss::Clustering clus(d, p.k, cpi);
        const uint64_t run_seed = p.seed * 1000003ull + static_cast<uint64_t>(run);
        const int64_t m = std::max<int64_t>(20000, 100 * static_cast<int64_t>(p.k));
        if (n > m) {  // seed on a sample: the seeding is memory-bound, Lloyd then refines on all items
          const auto idx = analysis::sample_indices(n, m, run_seed ^ 0x5eedull);
          std::vector<float> sub(static_cast<size_t>(m) * d);
          for (int64_t i = 0; i < m; ++i) std::copy(x.row(idx[i]), x.row(idx[i]) + d, sub.begin() + i * d);
          clus.centroids = kmeanspp(MatrixView(sub.data(), m, d), p.k, run_seed);
        } else {
          clus.centroids = kmeanspp(x, p.k, run_seed);
        }
        double prev = std::numeric_limits<double>::infinity();
        for (int done = 0; done < p.iterations; done += cpi.niter) {
          faiss::IndexFlatL2 index(d);
          clus.train(n, x.data, index);
          if (p.tolerance <= 0) break;
          const double o = clus.iteration_stats.back().obj;
          if (std::isfinite(prev) && prev - o <= p.tolerance * prev) break;
          prev = o;
        }
        const double obj = clus.iteration_stats.empty() ? 0.0 : clus.iteration_stats.back().obj;
        if (run == 0 || obj < best) {
          best = obj;
          r.centroids.assign(clus.centroids.begin(), clus.centroids.end());
        }
      }
    }
  }
  // Exact final assignment.
  r.labels.resize(n);
  r.distances.resize(n);
  r.inertia = assign_to_centroids(x, r.centroids, p.k, r.labels, r.distances);
  return r;
}

double assign_to_centroids(MatrixView x, std::span<const float> centroids, int k, std::span<int> labels,
                           std::span<float> distances) {
  const int64_t n = x.n;
  const int d = x.d;
  IRBIS_THROW_IF_NOT(k >= 1 && centroids.size() == static_cast<size_t>(k) * d, UsageError,
                     "centroids must be k x d");
  IRBIS_THROW_IF_NOT(labels.size() == static_cast<size_t>(n) && distances.size() == static_cast<size_t>(n),
                     UsageError, "one label and distance per item is needed");
  if (n == 0) return 0.0;
  faiss::IndexFlatL2 cindex(d);
  cindex.add(k, centroids.data());
  std::vector<float> dist2(n);
  std::vector<faiss::Index::idx_t> lab(n);
  cindex.search(n, x.data, 1, dist2.data(), lab.data());
  double inertia = 0;
  for (int64_t i = 0; i < n; ++i) {
    labels[i] = lab[i] < 0 ? 0 : static_cast<int>(lab[i]);
    const float d2 = std::isfinite(dist2[i]) ? std::max(0.0f, dist2[i]) : 0.0f;
    distances[i] = std::sqrt(d2);
    inertia += d2;
  }
  return inertia;
}

}  // namespace irbis

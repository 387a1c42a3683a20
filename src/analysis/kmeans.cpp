// k-means: Lloyd iterations from a greedy k-means++ seeding (Arthur & Vassilvitskii 2007, seeded
// per restart), or FAISS's own random init and Lloyd (nredo); several restarts, the lowest
// objective kept; then one exact assignment for labels, distances and inertia.
//
// Lloyd with the k-means++ init is exact Lloyd accelerated by Hamerly's bounds (Hamerly 2010,
// "Making k-means even faster"): per item an upper bound on the distance to its centre and a
// lower bound on the distance to every other centre, loosened by how far the centres moved. Items
// whose bounds prove they keep their centre are skipped; the rest get exact distances by sgemm in
// blocks. The assignments equal plain Lloyd's (up to floating-point ties) at a fraction of the
// distance computations once the clusters settle, which is most of the iterations.
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <limits>

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"
#include "features/inner_product.h"

namespace irbis {
namespace {

// Squared distances of every item to `m` candidate rows (n x m, candidate-major), never above the
// item's current best: where the triangle inequality proves a candidate cannot beat the item's
// nearest centre so far (distance from the candidate to that centre >= 2 sqrt(best)), the dot
// product is skipped and best is kept (exact k-means++, as in Raff 2021). One pass over the
// items with the candidates in L1: an sgemm with so few rows would re-pack all the items at every
// step (measured: most of the seeding time). gap (m x centres) holds candidate-centre distances.
void candidate_distances(MatrixView x, const std::vector<float>& norms, const std::vector<int64_t>& cand,
                         const std::vector<float>& best, const std::vector<int>& owner,
                         const std::vector<float>& gap, int centres, std::vector<float>& out) {
  const int64_t n = x.n;
  const int d = x.d;
  const int m = static_cast<int>(cand.size());
  out.resize(static_cast<size_t>(m) * n);
#pragma omp parallel for schedule(static) if (static_cast<double>(n) * m * d > 2e7)
  for (int64_t i = 0; i < n; ++i) {
    const float* r = x.row(i);
    const float reach = 2.0f * std::sqrt(best[i]);
    for (int t = 0; t < m; ++t) {
      float& o = out[static_cast<size_t>(t) * n + i];
      if (gap[static_cast<size_t>(t) * centres + owner[i]] >= reach) {
        o = best[i];
        continue;
      }
      const float d2 = std::max(0.0f, norms[i] + norms[cand[t]] - 2.0f * kernels::dot(r, x.row(cand[t]), d));
      o = cand[t] == i ? 0.0f : std::min(d2, best[i]);
    }
  }
}

// Greedy k-means++: each next centre is the best (lowest resulting potential) of 2 + ln k candidates
// drawn with probability proportional to the squared distance to the nearest centre so far. Sums
// run over per-item arrays in index order, so the result does not depend on the thread count.
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
  std::vector<int64_t> chosen(1, static_cast<int64_t>(rng.below(n)));
  std::vector<int> owner(n, 0);  // index in `chosen` of each item's nearest centre
  // Squared distances to the first centre: no centre to prune against yet.
  std::vector<float> cand_d, best(n, std::numeric_limits<float>::infinity()), gap(1, 0.0f);
  candidate_distances(x, norms, chosen, best, owner, gap, 1, cand_d);
  best.assign(cand_d.begin(), cand_d.begin() + n);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) total += best[i];
  std::vector<int64_t> cand(trials);
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
    gap.resize(static_cast<size_t>(trials) * a);
    for (int t = 0; t < trials; ++t)
      for (int j = 0; j < a; ++j) {
        const int64_t p = cand[t], q = chosen[j];
        gap[static_cast<size_t>(t) * a + j] =
            std::sqrt(std::max(0.0f, norms[p] + norms[q] - 2.0f * kernels::dot(x.row(p), x.row(q), d)));
      }
    candidate_distances(x, norms, cand, best, owner, gap, a, cand_d);
    int pick = 0;
    double pick_total = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      const float* o = cand_d.data() + static_cast<size_t>(t) * n;
      double s = 0;
      for (int64_t i = 0; i < n; ++i) s += o[i];
      if (s < pick_total) { pick_total = s; pick = t; }
    }
    const float* o = cand_d.data() + static_cast<size_t>(pick) * n;
    for (int64_t i = 0; i < n; ++i) {
      if (o[i] < best[i]) owner[i] = a;
      best[i] = o[i];
    }
    chosen.push_back(cand[pick]);
    total = pick_total;
  }
  std::vector<float> c(static_cast<size_t>(k) * d);
  for (int a = 0; a < k; ++a) std::copy(x.row(chosen[a]), x.row(chosen[a]) + d, c.begin() + static_cast<size_t>(a) * d);
  return c;
}


// Nearest and second-nearest centre of m contiguous rows (squared-norm trick, one sgemm per block).
// d1/d2 receive Euclidean distances (not squared).
void nearest_two(const float* rows, const float* rnorm, int64_t m, int d, const std::vector<float>& c,
                 const std::vector<float>& cnorm, int k, std::vector<float>& buf, int* label, float* d1,
                 float* d2) {
  constexpr int64_t kBlock = 4096;
  for (int64_t b0 = 0; b0 < m; b0 += kBlock) {
    const int64_t bm = std::min(kBlock, m - b0);
    buf.resize(static_cast<size_t>(bm) * k);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(bm), k, d, -2.0f,
                rows + b0 * d, d, c.data(), d, 0.0f, buf.data(), k);
#pragma omp parallel for schedule(static) if (bm * k > 200000)
    for (int64_t i = 0; i < bm; ++i) {
      const float* o = buf.data() + i * k;
      float b1 = std::numeric_limits<float>::infinity(), b2 = b1;
      int a = 0;
      for (int j = 0; j < k; ++j) {
        const float v = o[j] + cnorm[j];
        if (v < b1) { b2 = b1; b1 = v; a = j; }
        else if (v < b2) b2 = v;
      }
      const float xn = rnorm[b0 + i];
      label[b0 + i] = a;
      d1[b0 + i] = std::sqrt(std::max(0.0f, b1 + xn));
      d2[b0 + i] = std::sqrt(std::max(0.0f, b2 + xn));
    }
  }
}

float squared_norm(const float* v, int d) { return kernels::dot(v, v, d); }

// Exact Lloyd from the given centres, accelerated by Hamerly's bounds: `iterations` rounds of
// update + assignment, stopping early when no item changes centre or when one update lowers the
// objective by less than `tol` (relative). Leaves `c` at the final centres, the labels of the
// final assignment and each item's distance to its centre; returns the inertia.
double lloyd_hamerly(MatrixView x, const std::vector<float>& xnorm, int k, std::vector<float>& c, int iterations,
                     double tol, std::vector<int>& a, std::vector<float>& dist) {
  const int64_t n = x.n;
  const int d = x.d;
  a.assign(n, 0);
  std::vector<float> u(n), l(n), cnorm(k), buf, delta(k), half_gap(k);
  std::vector<double> sum(static_cast<size_t>(k) * d, 0.0);
  std::vector<int64_t> count(k, 0);
  for (int j = 0; j < k; ++j) cnorm[j] = squared_norm(c.data() + static_cast<size_t>(j) * d, d);
  nearest_two(x.data, xnorm.data(), n, d, c, cnorm, k, buf, a.data(), u.data(), l.data());
  auto add_row = [&](int64_t i, int j, double sign) {
    const float* r = x.row(i);
    double* s = sum.data() + static_cast<size_t>(j) * d;
    for (int t = 0; t < d; ++t) s[t] += sign * r[t];
    count[j] += sign > 0 ? 1 : -1;
  };
  for (int64_t i = 0; i < n; ++i) add_row(i, a[i], 1.0);
  double sum_xnorm = 0;
  for (int64_t i = 0; i < n; ++i) sum_xnorm += xnorm[i];

  std::vector<float> old(static_cast<size_t>(k) * d);
  std::vector<char> check(n);
  std::vector<int64_t> todo;
  std::vector<float> rows, rnorm, nd1, nd2;
  std::vector<int> nlab;
  double prev = std::numeric_limits<double>::infinity();
  for (int it = 0; it < iterations; ++it) {
    // Update step. An emptied cluster takes the item farthest from its centre (as scikit-learn
    // does); other items' lower bounds are then unknown, so they are reset.
    bool reset_lower = false;
    for (int j = 0; j < k; ++j) {
      if (count[j] > 0) continue;
      int64_t far = -1;
      float far_d = -1;
      for (int64_t i = 0; i < n; ++i)
        if (count[a[i]] > 1 && u[i] > far_d) { far_d = u[i]; far = i; }
      if (far < 0) continue;  // fewer distinct items than centres: leave it empty
      add_row(far, a[far], -1.0);
      a[far] = j;
      add_row(far, j, 1.0);
      u[far] = 0;
      reset_lower = true;
    }
    old = c;
    double inertia = sum_xnorm;
    for (int j = 0; j < k; ++j) {
      float* cj = c.data() + static_cast<size_t>(j) * d;
      if (count[j] > 0) {
        const double* s = sum.data() + static_cast<size_t>(j) * d;
        const double inv = 1.0 / static_cast<double>(count[j]);
        double sq = 0;
        for (int t = 0; t < d; ++t) {
          cj[t] = static_cast<float>(s[t] * inv);
          sq += s[t] * s[t];
        }
        inertia -= sq * inv;  // sum over the cluster of |x - mean|^2 = sum |x|^2 - |sum|^2 / count
      }
      double m = 0;
      for (int t = 0; t < d; ++t) {
        const double e = static_cast<double>(cj[t]) - old[static_cast<size_t>(j) * d + t];
        m += e * e;
      }
      delta[j] = static_cast<float>(std::sqrt(m));
      cnorm[j] = squared_norm(cj, d);
    }
    inertia = std::max(0.0, inertia);
    // The last round still assigns: labels and distances then refer to the final centres.
    const bool last = it + 1 == iterations || (tol > 0 && std::isfinite(prev) && prev - inertia <= tol * prev);
    prev = inertia;

    // Loosen the bounds by the centre moves; half the distance to the nearest other centre.
    int far1 = 0;
    for (int j = 1; j < k; ++j) if (delta[j] > delta[far1]) far1 = j;
    float move2 = 0;
    for (int j = 0; j < k; ++j) if (j != far1) move2 = std::max(move2, delta[j]);
    std::fill(half_gap.begin(), half_gap.end(), std::numeric_limits<float>::infinity());
    {
      std::vector<float> cc(static_cast<size_t>(k) * k);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, k, d, -2.0f, c.data(), d, c.data(), d, 0.0f,
                  cc.data(), k);
      for (int j = 0; j < k; ++j)
        for (int q = 0; q < k; ++q)
          if (q != j)
            half_gap[j] = std::min(half_gap[j], 0.5f * std::sqrt(std::max(0.0f, cc[static_cast<size_t>(j) * k + q] +
                                                                                      cnorm[j] + cnorm[q])));
    }
#pragma omp parallel for schedule(static) if (n > 20000)
    for (int64_t i = 0; i < n; ++i) {
      const int ai = a[i];
      u[i] += delta[ai];
      l[i] = reset_lower ? 0.0f : l[i] - (ai == far1 ? move2 : delta[far1]);
      const float bound = std::max(half_gap[ai], l[i]);
      check[i] = 0;
      if (u[i] <= bound) continue;
      const float* ci = c.data() + static_cast<size_t>(ai) * d;
      u[i] = std::sqrt(std::max(0.0f, xnorm[i] + cnorm[ai] - 2.0f * kernels::dot(x.row(i), ci, d)));
      check[i] = u[i] > bound;
    }
    todo.clear();
    for (int64_t i = 0; i < n; ++i) if (check[i]) todo.push_back(i);
    if (todo.empty()) break;  // every item provably keeps its centre: converged
    const int64_t m = static_cast<int64_t>(todo.size());
    rows.resize(static_cast<size_t>(m) * d);
    rnorm.resize(m);
    nlab.resize(m);
    nd1.resize(m);
    nd2.resize(m);
    for (int64_t t = 0; t < m; ++t) {
      std::copy(x.row(todo[t]), x.row(todo[t]) + d, rows.begin() + t * d);
      rnorm[t] = xnorm[todo[t]];
    }
    nearest_two(rows.data(), rnorm.data(), m, d, c, cnorm, k, buf, nlab.data(), nd1.data(), nd2.data());
    bool moved = false;
    for (int64_t t = 0; t < m; ++t) {
      const int64_t i = todo[t];
      u[i] = nd1[t];
      l[i] = nd2[t];
      if (nlab[t] == a[i]) continue;
      add_row(i, a[i], -1.0);
      a[i] = nlab[t];
      add_row(i, a[i], 1.0);
      moved = true;
    }
    if (last || (!moved && !reset_lower)) break;  // unchanged assignment: the next update changes nothing
  }
  dist.resize(n);
  double inertia = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* ci = c.data() + static_cast<size_t>(a[i]) * d;
    const float d2 = std::max(0.0f, xnorm[i] + cnorm[a[i]] - 2.0f * kernels::dot(x.row(i), ci, d));
    dist[i] = std::sqrt(d2);
    inertia += d2;
  }
  return inertia;
}

// Exact nearest centre of every item; returns the inertia.
double assign_all(MatrixView x, const std::vector<float>& xnorm, const std::vector<float>& c, int k,
                  std::vector<int>& labels, std::vector<float>& dist) {
  std::vector<float> cnorm(k), buf, second(x.n);
  for (int j = 0; j < k; ++j) cnorm[j] = squared_norm(c.data() + static_cast<size_t>(j) * x.d, x.d);
  labels.resize(x.n);
  dist.resize(x.n);
  nearest_two(x.data, xnorm.data(), x.n, x.d, c, cnorm, k, buf, labels.data(), dist.data(), second.data());
  double inertia = 0;
  for (float v : dist) inertia += static_cast<double>(v) * v;
  return inertia;
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
  std::vector<float> xnorm(n);
  for (int64_t i = 0; i < n; ++i) xnorm[i] = squared_norm(x.row(i), d);
  if (p.k == 1) {  // closed form: the mean
    r.centroids.assign(d, 0.0f);
    std::vector<double> mean(d, 0.0);
    for (int64_t i = 0; i < n; ++i)
      for (int j = 0; j < d; ++j) mean[j] += x.row(i)[j];
    for (int j = 0; j < d; ++j) r.centroids[j] = static_cast<float>(mean[j] / static_cast<double>(n));
    r.inertia = assign_all(x, xnorm, r.centroids, 1, r.labels, r.distances);
  } else if (p.init == KMeansInit::random) {
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
    r.inertia = assign_all(x, xnorm, r.centroids, p.k, r.labels, r.distances);
  } else {
    // max_points_per_centroid: Lloyd runs on a seeded subsample, then every item is assigned.
    std::vector<float> sub_rows, sub_norm;
    MatrixView train = x;
    const std::vector<float>* train_norm = &xnorm;
    if (p.max_points_per_centroid > 0 && n > static_cast<int64_t>(p.max_points_per_centroid) * p.k) {
      const auto idx = analysis::sample_indices(n, static_cast<int64_t>(p.max_points_per_centroid) * p.k, p.seed);
      sub_rows.resize(idx.size() * d);
      sub_norm.resize(idx.size());
      for (size_t t = 0; t < idx.size(); ++t) {
        std::copy(x.row(idx[t]), x.row(idx[t]) + d, sub_rows.begin() + t * d);
        sub_norm[t] = xnorm[idx[t]];
      }
      train = MatrixView(sub_rows.data(), static_cast<int64_t>(idx.size()), d);
      train_norm = &sub_norm;
    }
    std::vector<int> labels;
    std::vector<float> dist;
    double best = std::numeric_limits<double>::infinity();
    for (int run = 0; run < p.restarts; ++run) {
      const uint64_t run_seed = p.seed * 1000003ull + static_cast<uint64_t>(run);
      const int64_t m = std::max<int64_t>(20000, 100 * static_cast<int64_t>(p.k));
      std::vector<float> c;
      if (train.n > m) {  // seed on a sample: the seeding is memory-bound, Lloyd then refines on all items
        const auto idx = analysis::sample_indices(train.n, m, run_seed ^ 0x5eedull);
        std::vector<float> sub(static_cast<size_t>(m) * d);
        for (int64_t i = 0; i < m; ++i) std::copy(train.row(idx[i]), train.row(idx[i]) + d, sub.begin() + i * d);
        c = kmeanspp(MatrixView(sub.data(), m, d), p.k, run_seed);
      } else {
        c = kmeanspp(train, p.k, run_seed);
      }
      const double obj = lloyd_hamerly(train, *train_norm, p.k, c, p.iterations, p.tolerance, labels, dist);
      if (run == 0 || obj < best) {
        best = obj;
        r.centroids = std::move(c);
        r.labels.swap(labels);
        r.distances.swap(dist);
        r.inertia = obj;
      }
    }
    if (train.data != x.data) r.inertia = assign_all(x, xnorm, r.centroids, p.k, r.labels, r.distances);
  }
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
  std::vector<float> xnorm(n);
  for (int64_t i = 0; i < n; ++i) xnorm[i] = squared_norm(x.row(i), d);
  std::vector<int> lab;
  std::vector<float> dist;
  const double inertia = assign_all(x, xnorm, std::vector<float>(centroids.begin(), centroids.end()), k, lab, dist);
  std::copy(lab.begin(), lab.end(), labels.begin());
  std::copy(dist.begin(), dist.end(), distances.begin());
  return inertia;
}

}  // namespace irbis

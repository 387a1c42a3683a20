// t-SNE, written from L. van der Maaten & G. Hinton, "Visualizing Data using t-SNE" (JMLR 2008) and
// L. van der Maaten, "Accelerating t-SNE using Tree-Based Algorithms" (JMLR 2014):
//   * input affinities: Gaussian conditionals p(j|i) whose bandwidth is set by bisection so that the
//     perplexity 2^H(P_i) equals the target; symmetrised p_ij = (p(j|i) + p(i|j)) / 2n. Exact over
//     all pairs for small n, over the 3*perplexity nearest neighbours (exact kNN, FAISS) above;
//   * output similarities: Student-t (one degree of freedom);
//   * gradient 4 * sum_j (p_ij - q_ij) (1 + |y_i - y_j|^2)^-1 (y_i - y_j), the repulsive part by a
//     Barnes-Hut quadtree (cell used when its width / distance < theta) above the exact limit;
//   * optimisation: early exaggeration, momentum 0.5 -> 0.8, per-parameter gains (Jacobs 1988).
// Initialisation: the first two principal components scaled to standard deviation 1e-4, plus a
// seeded 1e-3 relative jitter (so coincident points can separate). Forces are computed per point
// and reduced in a fixed order, so the result depends only on the input and the seed.
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <limits>

#include <faiss/IndexFlat.h>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

// Bisection on the precision beta of one row of squared distances; writes normalised p(j|i).
void row_affinities(const float* d2, int m, double perplexity, double* p) {
  if (m == 0) return;
  double dmin = std::numeric_limits<double>::infinity();
  for (int j = 0; j < m; ++j) dmin = std::min(dmin, static_cast<double>(d2[j]));
  const double target = std::log(perplexity);
  double beta = 1.0, lo = -1.0, hi = -1.0;  // negative = unbounded
  // Start from a scale-aware beta so the search converges quickly whatever the units.
  double mean = 0;
  for (int j = 0; j < m; ++j) mean += d2[j] - dmin;
  mean /= m;
  if (mean > 0) beta = 1.0 / mean;
  for (int it = 0; it < 200; ++it) {
    double sum = 0, wsum = 0;
    for (int j = 0; j < m; ++j) {
      const double dd = d2[j] - dmin;
      p[j] = std::exp(-beta * dd);
      sum += p[j];
      wsum += dd * p[j];
    }
    const double h = std::log(sum) + beta * wsum / sum;
    const double diff = h - target;
    if (std::fabs(diff) < 1e-5) break;
    if (diff > 0) {  // entropy too high: sharpen
      lo = beta;
      beta = hi < 0 ? beta * 2 : 0.5 * (beta + hi);
    } else {
      hi = beta;
      beta = lo < 0 ? beta / 2 : 0.5 * (beta + lo);
    }
    if (!std::isfinite(beta) || beta > 1e300) break;
  }
  double sum = 0;
  for (int j = 0; j < m; ++j) sum += p[j];
  for (int j = 0; j < m; ++j) p[j] = sum > 0 ? p[j] / sum : 1.0 / m;
}

// Symmetric sparse P in CSR form.
struct SparseP {
  std::vector<int64_t> rowptr;
  std::vector<int> col;
  std::vector<double> val;
};

SparseP symmetrize(int64_t n, int K, const std::vector<faiss::Index::idx_t>& nbr, const std::vector<double>& cond) {
  // Count entries of P + P^T: every (i, j) plus (j, i), merged.
  std::vector<std::vector<std::pair<int, double>>> rows(n);
  for (int64_t i = 0; i < n; ++i)
    for (int t = 0; t < K; ++t) {
      const faiss::Index::idx_t j = nbr[i * K + t];
      if (j < 0 || j == i) continue;
      rows[i].push_back({static_cast<int>(j), cond[i * K + t]});
      rows[j].push_back({static_cast<int>(i), cond[i * K + t]});
    }
  SparseP P;
  P.rowptr.assign(n + 1, 0);
  const double scale = 1.0 / (2.0 * static_cast<double>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto& r = rows[i];
    std::sort(r.begin(), r.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t t = 0; t < r.size();) {
      size_t u = t;
      double v = 0;
      while (u < r.size() && r[u].first == r[t].first) v += r[u++].second;
      P.col.push_back(r[t].first);
      P.val.push_back(v * scale);
      t = u;
    }
    P.rowptr[i + 1] = static_cast<int64_t>(P.col.size());
    std::vector<std::pair<int, double>>().swap(r);
  }
  return P;
}

// Quadtree over the current map for the Barnes-Hut repulsion.
struct QuadTree {
  struct Node {
    double comx = 0, comy = 0, width = 0;  // centre of mass, cell side
    int count = 0;
    int child[4] = {-1, -1, -1, -1};
    int begin = 0;  // leaf: range [begin, begin + count) of `order`
    bool leaf = false;
  };
  std::vector<Node> nodes;
  std::vector<int> order, tmp;
  const double* y = nullptr;

  void build(const double* y_, int n) {
    y = y_;
    nodes.clear();
    order.resize(n);
    tmp.resize(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
    for (int i = 0; i < n; ++i) {
      x0 = std::min(x0, y[2 * i]); x1 = std::max(x1, y[2 * i]);
      y0 = std::min(y0, y[2 * i + 1]); y1 = std::max(y1, y[2 * i + 1]);
    }
    const double hw = 0.5 * std::max(x1 - x0, y1 - y0) * (1 + 1e-9) + 1e-12;
    nodes.reserve(2 * static_cast<size_t>(n));
    make(0, n, 0.5 * (x0 + x1), 0.5 * (y0 + y1), hw, 0);
  }

  int make(int begin, int count, double cx, double cy, double hw, int depth) {
    const int id = static_cast<int>(nodes.size());
    nodes.emplace_back();
    double sx = 0, sy = 0;
    for (int t = begin; t < begin + count; ++t) { sx += y[2 * order[t]]; sy += y[2 * order[t] + 1]; }
    {
      Node& nd = nodes[id];
      nd.comx = sx / count; nd.comy = sy / count; nd.width = 2 * hw; nd.count = count; nd.begin = begin;
      nd.leaf = count == 1 || depth >= 48 || hw < 1e-12;
    }
    if (nodes[id].leaf) return id;
    int cnt[4] = {0, 0, 0, 0};
    auto quad = [&](int p) { return (y[2 * p] >= cx ? 1 : 0) + (y[2 * p + 1] >= cy ? 2 : 0); };
    for (int t = begin; t < begin + count; ++t) ++cnt[quad(order[t])];
    int start[4] = {begin, begin + cnt[0], begin + cnt[0] + cnt[1], begin + cnt[0] + cnt[1] + cnt[2]};
    int pos[4] = {start[0], start[1], start[2], start[3]};
    for (int t = begin; t < begin + count; ++t) tmp[pos[quad(order[t])]++] = order[t];
    std::copy(tmp.begin() + begin, tmp.begin() + begin + count, order.begin() + begin);
    const double h2 = 0.5 * hw;
    for (int q = 0; q < 4; ++q) {
      if (cnt[q] == 0) continue;
      const int c = make(start[q], cnt[q], cx + ((q & 1) ? h2 : -h2), cy + ((q & 2) ? h2 : -h2), h2, depth + 1);
      nodes[id].child[q] = c;
    }
    return id;
  }

  // Unnormalised repulsion on point i: sum q^2 (y_i - y_j) and sum q over j != i.
  void repulsion(int i, double theta, double& fx, double& fy, double& z) const {
    const double px = y[2 * i], py = y[2 * i + 1];
    int stack[256];
    int sp = 0;
    stack[sp++] = 0;
    fx = fy = z = 0;
    while (sp > 0) {
      const Node& nd = nodes[stack[--sp]];
      const double dx = px - nd.comx, dy = py - nd.comy, d2 = dx * dx + dy * dy;
      if (nd.leaf) {
        for (int t = nd.begin; t < nd.begin + nd.count; ++t) {
          const int j = order[t];
          if (j == i) continue;
          const double ex = px - y[2 * j], ey = py - y[2 * j + 1];
          const double q = 1.0 / (1.0 + ex * ex + ey * ey);
          z += q; fx += q * q * ex; fy += q * q * ey;
        }
      } else if (nd.width * nd.width < theta * theta * d2) {
        const double q = 1.0 / (1.0 + d2);
        z += nd.count * q; fx += nd.count * q * q * dx; fy += nd.count * q * q * dy;
      } else {
        for (int c : nd.child)
          if (c >= 0) stack[sp++] = c;
      }
    }
  }
};

}  // namespace

std::vector<float> tsne(MatrixView x, const TsneParams& p) {
  IRBIS_THROW_IF_NOT(p.perplexity > 0 && p.iterations >= 0 && p.theta >= 0, UsageError, "bad t-SNE parameters");
  const int64_t n = x.n;
  std::vector<float> out(static_cast<size_t>(n) * 2, 0.0f);
  if (n <= 1 || x.d == 0) return out;
  IRBIS_THROW_IF_NOT(n < (int64_t{1} << 31), UsageError, "too many items for t-SNE");

  // Input: centred, PCA-reduced when wide. The first two components also give the initial map.
  std::vector<float> xc = analysis::centered_rows(x, {});
  int d = x.d;
  std::vector<double> ev;
  std::vector<float> axes;
  const int red = std::min(d, std::max(2, p.pca_dims));
  analysis::principal_axes(xc.data(), n, d, red, ev, axes);
  std::vector<float> proj(static_cast<size_t>(n) * red);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), red, d, 1.0f, xc.data(), d, axes.data(),
              d, 0.0f, proj.data(), red);
  std::vector<double> Y(static_cast<size_t>(n) * 2, 0.0);  // initial map: leading two components
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < std::min(red, 2); ++a) Y[2 * i + a] = proj[i * red + a];
  if (d > red) { xc.swap(proj); d = red; }  // reduce; otherwise keep the full centred data

  // Per iteration ~20 n^2 flops exact, ~n (log n + 3 perplexity) * 40 Barnes-Hut.
  const analysis::SmallWorkSerial serial(n <= p.exact_max ? 20.0 * n * n : 40.0 * n * 100);
  const double perp = std::max(1.0, std::min(p.perplexity, (n - 1) / 3.0));
  const bool exact = n <= p.exact_max || p.theta == 0;
  const int K = exact ? static_cast<int>(n - 1) : static_cast<int>(std::min<int64_t>(n - 1, static_cast<int64_t>(3 * perp)));

  // Input affinities.
  std::vector<double> Pdense;  // exact: n x n symmetric
  SparseP P;
  if (exact) {
    std::vector<float> norms(n);
    for (int64_t i = 0; i < n; ++i) {
      double s = 0;
      for (int j = 0; j < d; ++j) s += static_cast<double>(xc[i * d + j]) * xc[i * d + j];
      norms[i] = static_cast<float>(s);
    }
    Pdense.assign(static_cast<size_t>(n) * n, 0.0);
#pragma omp parallel
    {
      std::vector<float> d2(n - 1);
      std::vector<double> pr(n - 1);
#pragma omp for schedule(dynamic, 16)
      for (int64_t i = 0; i < n; ++i) {
        int t = 0;
        for (int64_t j = 0; j < n; ++j) {
          if (j == i) continue;
          double s = 0;
          for (int c = 0; c < d; ++c) {
            const double df = static_cast<double>(xc[i * d + c]) - xc[j * d + c];
            s += df * df;
          }
          d2[t++] = static_cast<float>(s);
        }
        row_affinities(d2.data(), static_cast<int>(n - 1), perp, pr.data());
        t = 0;
        for (int64_t j = 0; j < n; ++j)
          if (j != i) Pdense[i * n + j] = pr[t++];
      }
    }
    const double scale = 1.0 / (2.0 * static_cast<double>(n));
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = i + 1; j < n; ++j) {
        const double v = (Pdense[i * n + j] + Pdense[j * n + i]) * scale;
        Pdense[i * n + j] = Pdense[j * n + i] = v;
      }
  } else {
    faiss::IndexFlatL2 index(d);
    index.add(n, xc.data());
    std::vector<float> dist(static_cast<size_t>(n) * (K + 1));
    std::vector<faiss::Index::idx_t> lab(static_cast<size_t>(n) * (K + 1));
    index.search(n, xc.data(), K + 1, dist.data(), lab.data());
    // Drop the point itself (when a duplicate is listed first, the last neighbour goes instead).
    std::vector<faiss::Index::idx_t> nbr(static_cast<size_t>(n) * K);
    std::vector<float> nd2(static_cast<size_t>(n) * K);
    for (int64_t i = 0; i < n; ++i) {
      int t = 0;
      for (int u = 0; u <= K && t < K; ++u) {
        const faiss::Index::idx_t j = lab[i * (K + 1) + u];
        if (j == i) continue;
        nbr[i * K + t] = j;
        nd2[i * K + t] = std::max(0.0f, dist[i * (K + 1) + u]);
        ++t;
      }
      for (; t < K; ++t) { nbr[i * K + t] = -1; nd2[i * K + t] = 0; }
    }
    std::vector<double> cond(static_cast<size_t>(n) * K);
#pragma omp parallel for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; ++i) row_affinities(nd2.data() + i * K, K, perp, cond.data() + i * K);
    P = symmetrize(n, K, nbr, cond);
  }

  // Initial map: scale the first component to standard deviation 1e-4, add a seeded jitter.
  {
    double mean0 = 0, var0 = 0;
    for (int64_t i = 0; i < n; ++i) mean0 += Y[2 * i];
    mean0 /= n;
    for (int64_t i = 0; i < n; ++i) var0 += (Y[2 * i] - mean0) * (Y[2 * i] - mean0);
    const double sd = std::sqrt(var0 / n);
    const double scale = sd > 1e-12 ? 1e-4 / sd : 0.0;
    analysis::Rng rng(p.seed);
    for (int64_t i = 0; i < n; ++i)
      for (int a = 0; a < 2; ++a) Y[2 * i + a] = Y[2 * i + a] * scale + 1e-7 * rng.normal();
  }

  const double eta = p.learning_rate > 0 ? p.learning_rate : std::max(static_cast<double>(n) / p.exaggeration / 4.0, 50.0);
  std::vector<double> grad(static_cast<size_t>(n) * 2), upd(grad.size(), 0.0), gains(grad.size(), 1.0);
  std::vector<double> zpart(n);
  QuadTree tree;
  for (int iter = 0; iter < p.iterations; ++iter) {
    const double exag = iter < p.exaggeration_iterations ? p.exaggeration : 1.0;
    const double momentum = iter < p.exaggeration_iterations ? 0.5 : 0.8;
    // Repulsive (unnormalised) and attractive forces per point.
    std::vector<double> rep(static_cast<size_t>(n) * 2);
    if (exact) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        double ax = 0, ay = 0, rx = 0, ry = 0, z = 0;
        const double yx = Y[2 * i], yy = Y[2 * i + 1];
        const double* Prow = Pdense.data() + i * n;
        for (int64_t j = 0; j < n; ++j) {
          if (j == i) continue;
          const double dx = yx - Y[2 * j], dy = yy - Y[2 * j + 1];
          const double q = 1.0 / (1.0 + dx * dx + dy * dy);
          ax += Prow[j] * q * dx; ay += Prow[j] * q * dy;
          rx += q * q * dx; ry += q * q * dy;
          z += q;
        }
        grad[2 * i] = ax; grad[2 * i + 1] = ay;
        rep[2 * i] = rx; rep[2 * i + 1] = ry;
        zpart[i] = z;
      }
    } else {
      tree.build(Y.data(), static_cast<int>(n));
#pragma omp parallel for schedule(dynamic, 256)
      for (int64_t i = 0; i < n; ++i) {
        double rx, ry, z;
        tree.repulsion(static_cast<int>(i), p.theta, rx, ry, z);
        double ax = 0, ay = 0;
        const double yx = Y[2 * i], yy = Y[2 * i + 1];
        for (int64_t t = P.rowptr[i]; t < P.rowptr[i + 1]; ++t) {
          const int j = P.col[t];
          const double dx = yx - Y[2 * j], dy = yy - Y[2 * j + 1];
          const double q = 1.0 / (1.0 + dx * dx + dy * dy);
          ax += P.val[t] * q * dx; ay += P.val[t] * q * dy;
        }
        grad[2 * i] = ax; grad[2 * i + 1] = ay;
        rep[2 * i] = rx; rep[2 * i + 1] = ry;
        zpart[i] = z;
      }
    }
    double Z = 0;
    for (int64_t i = 0; i < n; ++i) Z += zpart[i];  // fixed order: deterministic
    const double invZ = Z > 0 ? 1.0 / Z : 0.0;
    for (size_t t = 0; t < grad.size(); ++t) {
      double g = 4.0 * (exag * grad[t] - rep[t] * invZ);
      if (!std::isfinite(g)) g = 0;
      gains[t] = (g > 0) != (upd[t] > 0) ? gains[t] + 0.2 : gains[t] * 0.8;
      gains[t] = std::max(gains[t], 0.01);
      upd[t] = momentum * upd[t] - eta * gains[t] * g;
      Y[t] += upd[t];
    }
    double mx = 0, my = 0;
    for (int64_t i = 0; i < n; ++i) { mx += Y[2 * i]; my += Y[2 * i + 1]; }
    mx /= n; my /= n;
    for (int64_t i = 0; i < n; ++i) { Y[2 * i] -= mx; Y[2 * i + 1] -= my; }
  }
  for (size_t t = 0; t < Y.size(); ++t) out[t] = std::isfinite(Y[t]) ? static_cast<float>(Y[t]) : 0.0f;
  return out;
}

}  // namespace irbis

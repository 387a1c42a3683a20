// Silhouette (Rousseeuw 1987), Euclidean. For a block of B rows, the B x m distance matrix comes
// from one sgemm (|a|^2 + |b|^2 - 2 a.b on mean-centred data), and the per-cluster distance sums
// for every labelling at once from a second sgemm against the one-hot membership matrix
// (m x sum(k)). Memory: B * m + m * sum(k) floats; the m x m matrix never exists.
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <limits>
#include <map>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

struct Labelling {
  std::vector<int> dense;      // labels remapped to [0, k)
  std::vector<int64_t> sizes;  // per cluster
  int k = 0;
  int offset = 0;              // column offset in the membership matrix
};

Labelling densify(std::span<const int> labels, const std::vector<int64_t>& idx) {
  Labelling l;
  std::map<int, int> ids;
  l.dense.resize(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) {
    auto [it, fresh] = ids.try_emplace(labels[idx[i]], static_cast<int>(ids.size()));
    l.dense[i] = it->second;
    (void)fresh;
  }
  l.k = static_cast<int>(ids.size());
  l.sizes.assign(l.k, 0);
  for (int v : l.dense) ++l.sizes[v];
  return l;
}

// Per-item silhouettes of several labellings of the rows `idx` of x.
std::vector<std::vector<float>> silhouettes(MatrixView x, const std::vector<std::span<const int>>& labelings,
                                            const std::vector<int64_t>& idx) {
  const int64_t m = static_cast<int64_t>(idx.size());
  const int d = x.d;
  std::vector<Labelling> ls;
  int total = 0;
  for (const auto& lab : labelings) {
    IRBIS_THROW_IF_NOT(static_cast<int64_t>(lab.size()) == x.n, UsageError, "one label per item is needed");
    ls.push_back(densify(lab, idx));
    Labelling& l = ls.back();
    if (l.k < 2 || l.k > m - 1)
      throw UsageError("silhouette needs 2 <= number of clusters <= number of items - 1 (got " +
                       std::to_string(l.k) + " clusters for " + std::to_string(m) + " items)");
    l.offset = total;
    total += l.k;
  }
  const analysis::SmallWorkSerial serial(2.0 * static_cast<double>(std::min<int64_t>(m, 256)) * m * (d + total));
  std::vector<float> xs = analysis::centered_rows(x, idx);
  std::vector<float> norms(m);
  for (int64_t i = 0; i < m; ++i) {
    double s = 0;
    for (int j = 0; j < d; ++j) s += static_cast<double>(xs[i * d + j]) * xs[i * d + j];
    norms[i] = static_cast<float>(s);
  }
  std::vector<float> member(static_cast<size_t>(m) * total, 0.0f);
  for (const auto& l : ls)
    for (int64_t i = 0; i < m; ++i) member[i * total + l.offset + l.dense[i]] = 1.0f;

  std::vector<std::vector<float>> out(ls.size(), std::vector<float>(m, 0.0f));
  const int64_t B = 256;
  std::vector<float> dist(static_cast<size_t>(B) * m), sums(static_cast<size_t>(B) * total);
  for (int64_t b0 = 0; b0 < m; b0 += B) {
    const int bs = static_cast<int>(std::min(B, m - b0));
    // dist = -2 * Xb * X^T, then add the norms and take the root.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bs, static_cast<int>(m), d, -2.0f, xs.data() + b0 * d, d,
                xs.data(), d, 0.0f, dist.data(), static_cast<int>(m));
#pragma omp parallel for schedule(static)
    for (int r = 0; r < bs; ++r) {
      float* row = dist.data() + static_cast<int64_t>(r) * m;
      const float nr = norms[b0 + r];
      for (int64_t j = 0; j < m; ++j) row[j] = std::sqrt(std::max(0.0f, row[j] + nr + norms[j]));
      row[b0 + r] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, bs, total, static_cast<int>(m), 1.0f, dist.data(),
                static_cast<int>(m), member.data(), total, 0.0f, sums.data(), total);
    for (size_t li = 0; li < ls.size(); ++li) {
      const Labelling& l = ls[li];
      for (int r = 0; r < bs; ++r) {
        const int64_t i = b0 + r;
        const int own = l.dense[i];
        if (l.sizes[own] <= 1) { out[li][i] = 0.0f; continue; }
        const float* s = sums.data() + static_cast<int64_t>(r) * total + l.offset;
        const double a = std::max(0.0f, s[own]) / static_cast<double>(l.sizes[own] - 1);
        double b = std::numeric_limits<double>::infinity();
        for (int c = 0; c < l.k; ++c)
          if (c != own) b = std::min(b, std::max(0.0f, s[c]) / static_cast<double>(l.sizes[c]));
        const double den = std::max(a, b);
        const double v = den > 0 ? (b - a) / den : 0.0;
        out[li][i] = std::isfinite(v) ? static_cast<float>(v) : 0.0f;
      }
    }
  }
  return out;
}

}  // namespace

std::vector<double> silhouette_scores(MatrixView x, const std::vector<std::span<const int>>& labelings,
                                      int sample_size, uint64_t seed) {
  IRBIS_THROW_IF_NOT(x.n >= 1, UsageError, "silhouette needs items");
  const auto idx = analysis::sample_indices(x.n, sample_size > 0 ? sample_size : x.n, seed);
  const auto per = silhouettes(x, labelings, idx);
  std::vector<double> means;
  for (const auto& v : per) {
    double s = 0;
    for (float f : v) s += f;
    means.push_back(v.empty() ? 0.0 : s / static_cast<double>(v.size()));
  }
  return means;
}

double silhouette_score(MatrixView x, std::span<const int> labels, int sample_size, uint64_t seed) {
  return silhouette_scores(x, {labels}, sample_size, seed).front();
}

std::vector<float> silhouette_samples(MatrixView x, std::span<const int> labels) {
  IRBIS_THROW_IF_NOT(x.n >= 1, UsageError, "silhouette needs items");
  return silhouettes(x, {labels}, analysis::sample_indices(x.n, x.n, 0)).front();
}

}  // namespace irbis

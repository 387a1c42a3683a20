// The low-memory `irbis cluster`: fit on a seeded sample of rows, then stream every row in chunks
// (assign, project, hand to the sink), plus the per-cluster summarizer both modes share.
#include <algorithm>
#include <cmath>
#include <limits>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"

namespace irbis {
namespace analysis {

namespace {
constexpr int kMedoidCandidates = 20;  // medoid searched among the items closest to the centroid
}

ClusterSummarizer::ClusterSummarizer(int k, int central_items, int d)
    : central_(std::max(0, central_items)),
      keep_(std::max(std::max(0, central_items), kMedoidCandidates)),
      medoid_candidates_(kMedoidCandidates),
      d_(d),
      clusters_(static_cast<size_t>(std::max(k, 0))) {}

void ClusterSummarizer::add(int64_t item, int label, float distance) {
  IRBIS_THROW_IF_NOT(label >= 0 && label < static_cast<int>(clusters_.size()), UsageError, "cluster label out of range");
  Cluster& c = clusters_[label];
  ++c.size;
  c.distance_sum += distance;
  // Bounded max-heap of the nearest items: the farthest kept one is on top.
  c.nearest.push_back({distance, item});
  std::push_heap(c.nearest.begin(), c.nearest.end());
  if (static_cast<int>(c.nearest.size()) > keep_) {
    std::pop_heap(c.nearest.begin(), c.nearest.end());
    c.nearest.pop_back();
  }
}

std::vector<int64_t> ClusterSummarizer::candidates() {
  candidates_.clear();
  for (auto& c : clusters_) {
    std::sort(c.nearest.begin(), c.nearest.end());
    const size_t m = std::min(c.nearest.size(), static_cast<size_t>(medoid_candidates_));
    for (size_t t = 0; t < m; ++t) candidates_.push_back(c.nearest[t].item);
  }
  std::sort(candidates_.begin(), candidates_.end());
  return candidates_;
}

void ClusterSummarizer::set_candidate_rows(std::vector<float> rows) {
  IRBIS_THROW_IF_NOT(rows.size() == candidates_.size() * static_cast<size_t>(d_), UsageError,
                     "one row per medoid candidate is needed");
  rows_ = std::move(rows);
  for (auto& c : clusters_) {
    const size_t m = std::min(c.nearest.size(), static_cast<size_t>(medoid_candidates_));
    c.total.assign(m, 0.0);
    c.rows.resize(m);
    for (size_t t = 0; t < m; ++t) {
      const auto at = std::lower_bound(candidates_.begin(), candidates_.end(), c.nearest[t].item) - candidates_.begin();
      c.rows[t] = rows_.data() + static_cast<size_t>(at) * d_;
    }
  }
}

void ClusterSummarizer::add_row(int64_t /*item*/, int label, const float* row) {
  Cluster& c = clusters_[label];
  for (size_t t = 0; t < c.rows.size(); ++t) {
    const float* a = c.rows[t];
    double d2 = 0;
    for (int u = 0; u < d_; ++u) d2 += (static_cast<double>(a[u]) - row[u]) * (static_cast<double>(a[u]) - row[u]);
    c.total[t] += std::sqrt(d2);
  }
}

std::vector<ClusterSummary> ClusterSummarizer::finish() const {
  std::vector<ClusterSummary> out;
  for (size_t ci = 0; ci < clusters_.size(); ++ci) {
    const Cluster& c = clusters_[ci];
    ClusterSummary s;
    s.cluster = static_cast<int>(ci);
    s.size = c.size;
    s.mean_distance = c.size > 0 ? c.distance_sum / static_cast<double>(c.size) : 0.0;
    for (size_t t = 0; t < c.nearest.size() && static_cast<int>(t) < central_; ++t)
      s.most_central.push_back(c.nearest[t].item);
    // Medoid: among the candidates nearest the centroid, the one with the least total distance.
    double best = std::numeric_limits<double>::infinity();
    for (size_t t = 0; t < c.total.size(); ++t)
      if (c.total[t] < best - 1e-12) { best = c.total[t]; s.medoid = c.nearest[t].item; }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace analysis

bool low_memory_needed(int64_t n, int d) {
  return n > kLowMemoryItems || static_cast<double>(n) * d * sizeof(float) > static_cast<double>(kLowMemoryBytes);
}

ClusterReport analyze_clusters_streamed(const RowSource& src, const ClusterParams& p, std::span<const int> truth,
                                        const ClusterSink& sink) {
  const int64_t n = src.n;
  const int d = src.d;
  if (n < 1) throw UsageError("nothing to cluster: the input has no items");
  IRBIS_THROW_IF_NOT(d >= 1 && src.read, UsageError, "the row source has no dimensions or no reader");
  if (p.map == "tsne")
    throw UsageError("t-SNE needs every row in memory and cannot be streamed; the low-memory mode draws "
                     "the map by PCA (use map pca or none)");
  if (p.map != "pca" && p.map != "none") throw UsageError("unknown map '" + p.map + "' (use pca or none)");
  if (!truth.empty() && static_cast<int64_t>(truth.size()) != n)
    throw UsageError("got " + std::to_string(truth.size()) + " labels for " + std::to_string(n) + " items");
  IRBIS_THROW_IF_NOT(p.chunk_rows >= 1, UsageError, "chunks need at least one row");
  // k is checked against every item, not the sample.
  if (!p.auto_k && p.k > n)
    throw UsageError("k = " + std::to_string(p.k) + " is larger than the number of items (" + std::to_string(n) + ")");

  // Training sample: gathered row by row (sorted indices: one forward sweep over the file).
  const int64_t largest_k = std::max(p.auto_k ? p.k_max : p.k, 1);
  const int64_t want = std::max<int64_t>(p.low_memory_sample, 50 * largest_k);
  const auto idx = analysis::sample_indices(n, want, p.seed * 0x2545F4914F6CDD1Dull + 3);
  const int64_t m = static_cast<int64_t>(idx.size());
  ClusterReport r;
  r.low_memory = true;
  r.items = n;
  r.trained_on = m;
  r.map_method = p.map;
  PcaBasis basis;
  {
    std::vector<float> sample(static_cast<size_t>(m) * d);
    for (int64_t t = 0; t < m; ++t) src.read(idx[t], 1, sample.data() + t * d);
    const MatrixView sv(sample.data(), m, d);
    analysis::fit_clusters(sv, p, r);
    r.sample_map.assign(static_cast<size_t>(m) * 2, 0.0f);
    if (p.map == "pca") {
      basis = pca_fit(sv, 2);
      pca_apply(basis, sv, r.sample_map.data());
    }
  }  // the sample rows are freed before streaming
  r.sample_labels = std::move(r.kmeans.labels);
  r.kmeans.distances.clear();
  r.kmeans.distances.shrink_to_fit();

  // Pass 1: assign, project and emit every chunk; summaries keep only the nearest items.
  const int64_t chunk = std::min<int64_t>(p.chunk_rows, n);
  std::vector<float> rows(static_cast<size_t>(chunk) * d), dist(chunk), xy(static_cast<size_t>(chunk) * 2, 0.0f);
  std::vector<int>& labels = r.kmeans.labels;
  labels.assign(n, 0);
  analysis::ClusterSummarizer sum(r.k, p.central_items, d);
  double inertia = 0;
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t c = std::min(chunk, n - first);
    src.read(first, c, rows.data());
    const MatrixView view(rows.data(), c, d);
    const std::span<int> lab(labels.data() + first, static_cast<size_t>(c));
    const std::span<float> dst(dist.data(), static_cast<size_t>(c));
    inertia += assign_to_centroids(view, r.kmeans.centroids, r.k, lab, dst);
    if (p.map == "pca") pca_apply(basis, view, xy.data());
    for (int64_t i = 0; i < c; ++i) sum.add(first + i, lab[i], dst[i]);
    if (sink) sink({first, lab, std::span<const float>(xy.data(), static_cast<size_t>(2 * c)), dst});
  }
  r.kmeans.inertia = inertia;

  // Pass 2: medoids (distances of every item to its cluster's candidates).
  const std::vector<int64_t> cand = sum.candidates();
  std::vector<float> cand_rows(cand.size() * static_cast<size_t>(d));
  for (size_t t = 0; t < cand.size(); ++t) src.read(cand[t], 1, cand_rows.data() + t * d);
  sum.set_candidate_rows(std::move(cand_rows));
  for (int64_t first = 0; first < n; first += chunk) {
    const int64_t c = std::min(chunk, n - first);
    src.read(first, c, rows.data());
    for (int64_t i = 0; i < c; ++i) sum.add_row(first + i, labels[first + i], rows.data() + i * d);
  }
  r.clusters = sum.finish();
  if (!truth.empty()) r.scores = label_scores(truth, labels);
  return r;
}

}  // namespace irbis

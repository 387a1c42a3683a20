// The `irbis cluster` analysis: k sweep with silhouette + null reference, map, summaries, and the
// CSV / JSON / text reports.
#include <algorithm>
#include <cblas.h>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>

#include "analysis/analysis_util.h"
#include "irbis/errors.h"
#include "irbis/text.h"

namespace irbis {
namespace {

constexpr int kNullReferenceMax = 2000;  // items in the Gaussian "no clusters" reference

// Silhouette of k-means(k) on a Gaussian sample with the data's mean and covariance: each
// reference point is a standard-normal combination of the centred (sampled) items divided by
// sqrt(m - 1), whose covariance is exactly the sample covariance. Rotation-free, any d.
double null_silhouette(MatrixView x, int k, const KMeansParams& base, int sample_size) {
  const auto idx = analysis::sample_indices(x.n, sample_size > 0 ? sample_size : x.n, base.seed + 7);
  const int64_t m = static_cast<int64_t>(idx.size());
  const std::vector<float> xc = analysis::centered_rows(x, idx);
  const int r = static_cast<int>(std::min<int64_t>(std::max<int64_t>(m, 200), kNullReferenceMax));
  if (k < 2 || k > r - 1) return 0.0;
  std::vector<float> g(static_cast<size_t>(r) * m);
  analysis::Rng rng(base.seed * 31 + 11);
  for (auto& v : g) v = static_cast<float>(rng.normal());
  std::vector<float> ref(static_cast<size_t>(r) * x.d);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r, x.d, static_cast<int>(m),
              1.0f / std::sqrt(static_cast<float>(std::max<int64_t>(1, m - 1))), g.data(), static_cast<int>(m),
              xc.data(), x.d, 0.0f, ref.data(), x.d);
  const MatrixView rv(ref.data(), r, x.d);
  KMeansParams p = base;
  p.k = k;
  const KMeansResult km = kmeans(rv, p);
  int distinct = 0;
  {
    std::vector<int> seen(k, 0);
    for (int l : km.labels) distinct += seen[l]++ == 0;
  }
  if (distinct < 2) return 0.0;
  return silhouette_score(rv, km.labels, 0, base.seed);
}

int distinct_labels(const std::vector<int>& labels, int k) {
  std::vector<char> seen(std::max(k, 1), 0);
  int c = 0;
  for (int l : labels) c += seen[l]++ == 0;
  return c;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}


}  // namespace

int elbow_of(std::span<const int> ks, std::span<const double> values) {
  IRBIS_THROW_IF_NOT(ks.size() == values.size() && !ks.empty(), UsageError, "elbow needs a curve");
  if (ks.size() < 3) return ks.front();
  const double x0 = ks.front(), x1 = ks.back();
  const auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  const double vr = *hi - *lo;
  if (!(vr > 0) || x1 == x0) return ks.front();
  // Normalised points; the chord runs from the first to the last one.
  auto px = [&](size_t i) { return (ks[i] - x0) / (x1 - x0); };
  const double vmin = *lo;  // clang 14 cannot capture a structured binding
  auto py = [&](size_t i) { return (values[i] - vmin) / vr; };
  const double ax = px(0), ay = py(0), bx = px(ks.size() - 1), by = py(ks.size() - 1);
  const double len = std::hypot(bx - ax, by - ay);
  size_t best = 0;
  double bestd = -1;
  for (size_t i = 0; i < ks.size(); ++i) {
    const double dist = std::fabs((bx - ax) * (ay - py(i)) - (ax - px(i)) * (by - ay)) / len;
    if (dist > bestd + 1e-12) { bestd = dist; best = i; }
  }
  return ks[best];
}

AutoKResult choose_k(MatrixView x, int k_min, int k_max, const KMeansParams& base, int silhouette_sample) {
  if (k_min < 2) throw UsageError("the k range must start at 2 or more (got " + std::to_string(k_min) + ")");
  if (k_max <= k_min)
    throw UsageError("the k range " + std::to_string(k_min) + ".." + std::to_string(k_max) +
                     " has fewer than two values");
  if (x.n < 3) throw UsageError("choosing k needs at least 3 items (got " + std::to_string(x.n) + ")");
  const int hi = static_cast<int>(std::min<int64_t>(k_max, x.n - 1));
  AutoKResult r;
  std::vector<int> ks;
  for (int k = k_min; k <= hi; ++k) {
    KMeansParams p = base;
    p.k = k;
    r.runs.push_back(kmeans(x, p));
    ks.push_back(k);
  }
  IRBIS_THROW_IF_NOT(!ks.empty(), UsageError, "no k in the range is below the number of items");
  // One pass over the distances scores every k; labellings with fewer than 2 distinct clusters
  // (duplicate-heavy data) score 0.
  std::vector<std::span<const int>> lab;
  std::vector<size_t> which;
  const auto idx = analysis::sample_indices(x.n, silhouette_sample > 0 ? silhouette_sample : x.n, base.seed);
  const int64_t m = static_cast<int64_t>(idx.size());
  for (size_t i = 0; i < r.runs.size(); ++i) {
    std::vector<int> sub;
    std::vector<char> seen(r.runs[i].k, 0);
    int distinct = 0;
    for (int64_t t : idx) distinct += seen[r.runs[i].labels[t]]++ == 0;
    if (distinct >= 2 && distinct <= m - 1) { lab.emplace_back(r.runs[i].labels); which.push_back(i); }
  }
  std::vector<double> sil(r.runs.size(), 0.0);
  if (!lab.empty()) {
    const auto s = silhouette_scores(x, lab, silhouette_sample, base.seed);
    for (size_t t = 0; t < which.size(); ++t) sil[which[t]] = s[t];
  }
  std::vector<double> inertia;
  for (size_t i = 0; i < r.runs.size(); ++i) {
    r.table.push_back({ks[i], sil[i], r.runs[i].inertia});
    inertia.push_back(r.runs[i].inertia);
  }
  size_t best = 0;
  for (size_t i = 1; i < sil.size(); ++i)
    if (sil[i] > sil[best] + 1e-12) best = i;
  r.best_k = ks[best];
  r.best_silhouette = sil[best];
  r.elbow_k = elbow_of(ks, inertia);
  r.null_silhouette = null_silhouette(x, r.best_k, base, silhouette_sample);
  r.clear_structure = r.best_silhouette >= kNoStructureSilhouette &&
                      r.best_silhouette - r.null_silhouette >= kNoStructureMargin;
  return r;
}

namespace analysis {

void fit_clusters(MatrixView x, const ClusterParams& p, ClusterReport& r) {
  KMeansParams kp;
  kp.restarts = p.restarts;
  kp.iterations = p.iterations;
  kp.tolerance = p.tolerance;
  kp.seed = p.seed;
  r.auto_k = p.auto_k;
  if (p.auto_k) {
    if (x.n < 3) {  // nothing to choose from: one cluster, honestly reported as no structure
      if (p.k_min < 2 || p.k_max <= p.k_min) choose_k(x, p.k_min, p.k_max, kp, p.silhouette_sample);  // range errors first
      kp.k = 1;
      r.kmeans = kmeans(x, kp);
    } else {
      AutoKResult a = choose_k(x, p.k_min, p.k_max, kp, p.silhouette_sample);
      r.table = a.table;
      r.elbow_k = a.elbow_k;
      r.best_silhouette = a.best_silhouette;
      r.null_silhouette = a.null_silhouette;
      r.clear_structure = a.clear_structure;
      for (auto& run : a.runs)
        if (run.k == a.best_k) r.kmeans = std::move(run);
    }
  } else {
    if (p.k < 1) throw UsageError("give a number of clusters (k >= 1) or ask for the automatic k");
    if (p.k > x.n)
      throw UsageError("k = " + std::to_string(p.k) + " is larger than the number of items (" + std::to_string(x.n) + ")");
    kp.k = p.k;
    r.kmeans = kmeans(x, kp);
    const int distinct = distinct_labels(r.kmeans.labels, p.k);
    if (distinct >= 2 && distinct <= x.n - 1) {
      r.best_silhouette = silhouette_score(x, r.kmeans.labels, p.silhouette_sample, p.seed);
      r.null_silhouette = null_silhouette(x, p.k, kp, p.silhouette_sample);
      r.clear_structure = r.best_silhouette >= kNoStructureSilhouette &&
                          r.best_silhouette - r.null_silhouette >= kNoStructureMargin;
    }
    r.table.push_back({p.k, r.best_silhouette, r.kmeans.inertia});
    r.elbow_k = p.k;
  }
  r.k = r.kmeans.k;
}

}  // namespace analysis

ClusterReport analyze_clusters(MatrixView x, const ClusterParams& p, std::span<const int> truth) {
  if (x.n < 1) throw UsageError("nothing to cluster: the input has no items");
  IRBIS_THROW_IF_NOT(x.d >= 1, UsageError, "the input has no dimensions");
  if (p.map != "tsne" && p.map != "pca" && p.map != "none")
    throw UsageError("unknown map '" + p.map + "' (use tsne, pca or none)");
  if (!truth.empty() && static_cast<int64_t>(truth.size()) != x.n)
    throw UsageError("got " + std::to_string(truth.size()) + " labels for " + std::to_string(x.n) + " items");
  ClusterReport r;
  analysis::fit_clusters(x, p, r);
  r.items = r.trained_on = x.n;

  r.map_method = p.map;
  if (p.map == "tsne") {
    TsneParams tp = p.tsne;
    tp.seed = p.seed;
    r.map = tsne(x, tp);
  } else if (p.map == "pca") {
    r.map = pca_project(x, 2);
  } else {
    r.map.assign(static_cast<size_t>(x.n) * 2, 0.0f);
  }

  analysis::ClusterSummarizer sum(r.k, p.central_items, x.d);
  for (int64_t i = 0; i < x.n; ++i) sum.add(i, r.kmeans.labels[i], r.kmeans.distances[i]);
  const std::vector<int64_t> cand = sum.candidates();
  std::vector<float> cand_rows(cand.size() * static_cast<size_t>(x.d));
  for (size_t t = 0; t < cand.size(); ++t) std::copy_n(x.row(cand[t]), x.d, cand_rows.begin() + t * x.d);
  sum.set_candidate_rows(std::move(cand_rows));
  for (int64_t i = 0; i < x.n; ++i) sum.add_row(i, r.kmeans.labels[i], x.row(i));
  r.clusters = sum.finish();
  if (!truth.empty()) r.scores = label_scores(truth, r.kmeans.labels);
  return r;
}

void write_cluster_csv_header(std::ostream& out) { out << "path,cluster,x,y,distance_to_centroid\n"; }

void write_cluster_csv_rows(std::ostream& out, const ClusterChunk& c, const std::vector<std::string>& names) {
  const size_t n = c.labels.size();
  IRBIS_THROW_IF_NOT(c.distances.size() == n && c.xy.size() == 2 * n && c.first >= 0 &&
                         static_cast<size_t>(c.first) + n <= names.size(),
                     UsageError, "a chunk needs labels, distances, 2 coordinates and a name per row");
  char buf[96];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, ",%d,%.6g,%.6g,%.6g\n", c.labels[i], c.xy[2 * i], c.xy[2 * i + 1], c.distances[i]);
    out << csv_field(names[static_cast<size_t>(c.first) + i]) << buf;
  }
}

void write_cluster_csv(std::ostream& out, const ClusterReport& r, const std::vector<std::string>& names) {
  if (r.low_memory) throw UsageError("a low-memory cluster report has no per-item rows: they were streamed");
  const size_t n = r.kmeans.labels.size();
  IRBIS_THROW_IF_NOT(names.size() == n && r.kmeans.distances.size() == n, UsageError, "one name per item is needed");
  const std::vector<float> zeros(r.map.size() == 2 * n ? 0 : 2 * n, 0.0f);
  write_cluster_csv_header(out);
  write_cluster_csv_rows(out, {0, r.kmeans.labels, r.map.size() == 2 * n ? std::span<const float>(r.map) : zeros,
                               r.kmeans.distances}, names);
}

nlohmann::json cluster_report_json(const ClusterReport& r, const std::vector<std::string>& names) {
  IRBIS_THROW_IF_NOT(names.size() == r.kmeans.labels.size(), UsageError, "one name per item is needed");
  nlohmann::json j;
  j["items"] = names.size();
  j["low_memory"] = r.low_memory;
  if (r.low_memory) j["trained_on"] = r.trained_on;
  j["k"] = r.k;
  j["auto_k"] = r.auto_k;
  j["clear_structure"] = r.clear_structure;
  j["verdict"] = r.clear_structure ? "clear cluster structure" : "no clear cluster structure";
  j["best_silhouette"] = r.best_silhouette;
  j["null_silhouette"] = r.null_silhouette;
  j["thresholds"] = {{"min_silhouette", kNoStructureSilhouette}, {"min_margin_over_null", kNoStructureMargin}};
  j["elbow_k"] = r.elbow_k;
  j["inertia"] = r.kmeans.inertia;
  j["map"] = r.map_method;
  nlohmann::json table = nlohmann::json::array();
  for (const auto& s : r.table) table.push_back({{"k", s.k}, {"silhouette", s.silhouette}, {"inertia", s.inertia}});
  j["scores"] = table;
  nlohmann::json cl = nlohmann::json::array();
  for (const auto& s : r.clusters) {
    nlohmann::json c;
    c["cluster"] = s.cluster;
    c["size"] = s.size;
    c["medoid"] = s.medoid >= 0 ? nlohmann::json(names[s.medoid]) : nlohmann::json(nullptr);
    nlohmann::json central = nlohmann::json::array();
    for (int64_t i : s.most_central) central.push_back(names[i]);
    c["most_central"] = central;
    c["mean_distance_to_centroid"] = s.mean_distance;
    cl.push_back(c);
  }
  j["clusters"] = cl;
  if (r.scores) j["label_scores"] = {{"purity", r.scores->purity}, {"nmi", r.scores->nmi}, {"ari", r.scores->ari}};
  return j;
}

std::string format_k_table(const ClusterReport& r) {
  std::ostringstream o;
  o << "    k  silhouette       inertia\n";
  for (const auto& s : r.table) {
    o << fmt("%5.0f", s.k) << fmt("  %10.4f", s.silhouette) << fmt("  %12.5g", s.inertia);
    if (s.k == r.k) o << "  <- chosen" << (r.auto_k ? " (best silhouette)" : "");
    if (r.auto_k && s.k == r.elbow_k) o << "  <- elbow";
    o << "\n";
  }
  o << (r.clear_structure ? "clear cluster structure" : "no clear cluster structure") << ": best silhouette "
    << fmt("%.3f", r.best_silhouette) << ", " << fmt("%.3f", r.null_silhouette)
    << " for structure-less data of the same spread (clear needs >= " << fmt("%.2f", kNoStructureSilhouette)
    << " and a margin >= " << fmt("%.2f", kNoStructureMargin) << ")\n";
  if (r.low_memory)
    o << "low-memory mode: k-means, scores and map fitted on a seeded sample of " << r.trained_on << " of " << r.items
      << " items, then every item assigned in streamed chunks\n";
  return o.str();
}

}  // namespace irbis

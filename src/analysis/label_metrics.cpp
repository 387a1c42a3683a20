// Purity, normalised mutual information (arithmetic-mean normalisation) and the adjusted Rand
// index (Hubert & Arabie 1985) from the contingency table. Limit cases follow sklearn 1.2.
#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "irbis/cluster.h"
#include "irbis/errors.h"

namespace irbis {
namespace {

struct Contingency {
  int64_t n = 0;
  std::map<std::pair<int, int>, int64_t> cells;  // (truth, pred) -> count
  std::map<int, int64_t> rows, cols;             // truth sizes, pred sizes
};

Contingency contingency(std::span<const int> truth, std::span<const int> pred) {
  IRBIS_THROW_IF_NOT(truth.size() == pred.size(), UsageError, "label vectors differ in length");
  Contingency c;
  c.n = static_cast<int64_t>(truth.size());
  for (size_t i = 0; i < truth.size(); ++i) {
    ++c.cells[{truth[i], pred[i]}];
    ++c.rows[truth[i]];
    ++c.cols[pred[i]];
  }
  return c;
}

double entropy(const std::map<int, int64_t>& sizes, int64_t n) {
  double h = 0;
  for (const auto& [k, v] : sizes) {
    (void)k;
    const double p = static_cast<double>(v) / static_cast<double>(n);
    if (p > 0) h -= p * std::log(p);
  }
  return h;
}

double comb2(int64_t v) { return 0.5 * static_cast<double>(v) * static_cast<double>(v - 1); }

}  // namespace

double purity_score(std::span<const int> truth, std::span<const int> pred) {
  const Contingency c = contingency(truth, pred);
  if (c.n == 0) return 0.0;
  std::map<int, int64_t> best;  // per predicted cluster, its largest true class
  for (const auto& [key, v] : c.cells) best[key.second] = std::max(best[key.second], v);
  int64_t s = 0;
  for (const auto& [k, v] : best) { (void)k; s += v; }
  return static_cast<double>(s) / static_cast<double>(c.n);
}

double nmi_score(std::span<const int> truth, std::span<const int> pred) {
  const Contingency c = contingency(truth, pred);
  if (c.rows.size() == c.cols.size() && (c.rows.size() <= 1)) return 1.0;  // both trivial: perfect
  const double n = static_cast<double>(c.n);
  double mi = 0;
  for (const auto& [key, v] : c.cells) {
    const double nij = static_cast<double>(v);
    mi += nij / n * std::log(nij * n / (static_cast<double>(c.rows.at(key.first)) * c.cols.at(key.second)));
  }
  mi = std::max(0.0, mi);
  if (mi <= 0) return 0.0;
  const double norm = 0.5 * (entropy(c.rows, c.n) + entropy(c.cols, c.n));
  return std::clamp(mi / std::max(norm, 2.220446049250313e-16), 0.0, 1.0);
}

double adjusted_rand_score(std::span<const int> truth, std::span<const int> pred) {
  const Contingency c = contingency(truth, pred);
  const size_t nr = c.rows.size(), nc = c.cols.size();
  if (c.n == 0 || (nr == 1 && nc == 1) || (nr == static_cast<size_t>(c.n) && nc == static_cast<size_t>(c.n)))
    return 1.0;
  double sum_cells = 0, sum_rows = 0, sum_cols = 0;
  for (const auto& [k, v] : c.cells) { (void)k; sum_cells += comb2(v); }
  for (const auto& [k, v] : c.rows) { (void)k; sum_rows += comb2(v); }
  for (const auto& [k, v] : c.cols) { (void)k; sum_cols += comb2(v); }
  const double expected = sum_rows * sum_cols / comb2(c.n);
  const double max_index = 0.5 * (sum_rows + sum_cols);
  const double den = max_index - expected;
  if (den == 0) return 1.0;
  return (sum_cells - expected) / den;
}

LabelScores label_scores(std::span<const int> truth, std::span<const int> pred) {
  return {purity_score(truth, pred), nmi_score(truth, pred), adjusted_rand_score(truth, pred)};
}

std::vector<int> encode_labels(const std::vector<std::string>& names) {
  std::unordered_map<std::string, int> ids;
  std::vector<int> out;
  out.reserve(names.size());
  for (const auto& s : names) out.push_back(ids.try_emplace(s, static_cast<int>(ids.size())).first->second);
  return out;
}

}  // namespace irbis

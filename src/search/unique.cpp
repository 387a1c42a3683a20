// The most unique images: distance (1 - cosine) to the nearest neighbour that is not an exact
// duplicate, ranked descending, with a boxplot summary. See docs/search.md.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "irbis/search.h"

namespace irbis {
namespace {

// Distances this small count as "the same picture" (distance 0 in the seed's terms).
constexpr double kSameDistance = 1e-6;

double quantile(const std::vector<double>& s, double q) {  // s sorted; numpy's "linear"
  if (s.empty()) return 0;
  const double pos = q * double(s.size() - 1);
  const size_t lo = size_t(std::floor(pos));
  const size_t hi = std::min(lo + 1, s.size() - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - double(lo));
}

}  // namespace

BoxSummary box_summary(std::vector<double> v) {
  BoxSummary b;
  b.n = int64_t(v.size());
  if (v.empty()) return b;
  std::sort(v.begin(), v.end());
  b.min = v.front();
  b.max = v.back();
  b.mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
  b.q1 = quantile(v, 0.25);
  b.median = quantile(v, 0.5);
  b.q3 = quantile(v, 0.75);
  const double lo = b.lower_fence(), hi = b.upper_fence();
  b.lower_whisker = b.q1;
  b.upper_whisker = b.q3;
  for (double x : v) {
    if (x < lo) ++b.low_outliers;
    else b.lower_whisker = std::min(b.lower_whisker, x);
    if (x > hi) ++b.high_outliers;
    else b.upper_whisker = std::max(b.upper_whisker, x);
  }
  return b;
}

nlohmann::json box_summary_json(const BoxSummary& s) {
  return {{"n", s.n},          {"min", s.min}, {"q1", s.q1}, {"median", s.median}, {"q3", s.q3}, {"max", s.max},
          {"mean", s.mean},    {"lower_whisker", s.lower_whisker}, {"upper_whisker", s.upper_whisker},
          {"lower_fence", s.lower_fence()}, {"upper_fence", s.upper_fence()},
          {"low_outliers", s.low_outliers}, {"high_outliers", s.high_outliers}};
}

UniqueResult rank_unique(const VectorSearch& vs, const std::vector<ContentHash>& content, int top, int density_k,
                         int recheck_batch) {
  UniqueResult res;
  const int64_t n = vs.size();
  density_k = std::max(1, density_k);
  auto is_copy = [&](int64_t a, const Neighbor& nb) {
    if (1.0 - double(nb.similarity) <= kSameDistance) return true;
    return !content.empty() && content[size_t(a)] == content[size_t(nb.row)] &&
           std::any_of(content[size_t(a)].begin(), content[size_t(a)].end(), [](uint8_t b) { return b != 0; });
  };
  // Fills row r from a neighbour list (best first); returns how many non-copies it used for the
  // density (at most density_k).
  auto fill = [&](UniqueRow& u, const std::vector<Neighbor>& nbs) {
    int used = 0;
    double sum = 0;
    u.neighbor = -1;
    u.distance = -1;
    for (const auto& nb : nbs) {
      if (is_copy(u.row, nb)) continue;
      const double d = std::max(0.0, 1.0 - double(nb.similarity));
      if (u.neighbor < 0) {
        u.neighbor = nb.row;
        u.distance = d;
      }
      if (used < density_k) {
        sum += d;
        ++used;
      }
    }
    u.density = used ? sum / used : -1;
    return used;
  };
  const int fetch = density_k + 8;
  // Exact neighbours (`found`: the row's search_exact for `want`, when already made); when copies
  // crowd out the density_k non-copies, widen to every row.
  const int want = fetch + 64;
  auto fill_exact = [&](UniqueRow& u, const std::vector<Neighbor>* found = nullptr) {
    const float* q = vs.data().ptr<float>(int(u.row));
    if (fill(u, found ? *found : vs.search_exact(q, want, u.row)) < density_k && want < n - 1)
      fill(u, vs.search_exact(q, int(n), u.row));
    u.exact = true;
  };
  const auto knn = vs.self_knn(fetch);
  const bool approximate = !vs.self_knn_is_exact();
  res.rows.resize(size_t(n));
  for (int64_t r = 0; r < n; ++r) {
    UniqueRow& u = res.rows[size_t(r)];
    u.row = r;
    u.exact = !approximate;
    const int64_t got = int64_t(knn[size_t(r)].size());
    // Too few non-copies among the candidates (while others exist), or too few came back.
    if ((fill(u, knn[size_t(r)]) < density_k && got < n - 1) || got < std::min<int64_t>(fetch, n - 1)) fill_exact(u);
  }
  auto by_distance = [](const UniqueRow& a, const UniqueRow& b) {
    return a.distance != b.distance ? a.distance > b.distance : a.row < b.row;
  };
  std::sort(res.rows.begin(), res.rows.end(), by_distance);
  if (approximate && top > 0) {
    // An approximate distance is a real distance to some neighbour, so it is an upper bound of
    // the exact one. Re-check rows in descending approximate order until the top-th best exact
    // distance is at least the next unchecked approximate distance: then the top ranks are exact.
    // Each pass over the rows searches the next recheck_batch rows still approximate
    // (search_exact_rows; one exact search was one pass over the rows): the rows are re-checked
    // one by one in the same order as before, so the ranking is the same; rows searched past
    // where the loop stops are left as they were.
    const int64_t cap = std::min<int64_t>(n, 20 * int64_t(top) + 1000);
    const int64_t batch = std::max(1, recheck_batch);
    std::vector<double> best;  // exact distances found so far, kept sorted descending
    std::vector<int64_t> searched;                    // positions in res.rows searched ahead
    std::vector<std::vector<Neighbor>> searched_lists;  // their search_exact for `want`
    size_t next_searched = 0;
    int64_t i = 0;
    for (; i < cap; ++i) {
      UniqueRow& u = res.rows[size_t(i)];
      if (!u.exact) {
        if (next_searched == searched.size()) {
          searched.clear();
          std::vector<int64_t> rows;
          for (int64_t p = i; p < cap && int64_t(rows.size()) < batch; ++p)
            if (!res.rows[size_t(p)].exact) searched.push_back(p), rows.push_back(res.rows[size_t(p)].row);
          searched_lists = vs.search_exact_rows(rows, want);
          next_searched = 0;
        }
        fill_exact(u, &searched_lists[next_searched++]);
        ++res.rechecked;
      }
      best.insert(std::upper_bound(best.begin(), best.end(), u.distance, std::greater<double>()), u.distance);
      if (int64_t(best.size()) >= top && (i + 1 >= n || best[size_t(top - 1)] >= res.rows[size_t(i + 1)].distance)) {
        ++i;
        break;
      }
    }
    res.top_exact = int64_t(best.size()) >= std::min<int64_t>(top, n) &&
                    (i >= n || best[size_t(std::min<int64_t>(top, n) - 1)] >= res.rows[size_t(i)].distance);
    std::sort(res.rows.begin(), res.rows.end(), by_distance);
  } else {
    res.top_exact = true;
  }
  std::vector<double> d;
  for (const auto& u : res.rows)
    if (u.neighbor >= 0) d.push_back(u.distance);
  res.summary = box_summary(std::move(d));
  return res;
}

UniqueResult rank_unique_images(const VectorSearch& vs, int top, int density_k) {
  std::vector<ContentHash> content;
  content.reserve(vs.records().size());
  for (const auto& r : vs.records()) content.push_back(r.content_hash);
  const int64_t n = vs.size();
  return rank_unique(vs, content, top <= 0 ? int(n) : int(std::min<int64_t>(top, n)), density_k);
}

}  // namespace irbis

// Retrieval evaluation: seeded queries per class with one positive among N negatives (top-k
// accuracy), leave-one-out k-NN accuracy and mean average precision. Exact similarities only.
#include <algorithm>
#include <map>
#include <random>

#include <cblas.h>

#include "irbis/search.h"

namespace irbis {

RetrievalReport evaluate_retrieval(const VectorSearch& vs, const LabelSet& labels, const RetrievalParams& p) {
  RetrievalReport rep;
  const int64_t n = vs.size();
  const int d = vs.dim();
  std::vector<int64_t> rows;  // labelled rows
  std::map<int, std::vector<int64_t>> by_class;
  for (int64_t r = 0; r < n && r < int64_t(labels.label.size()); ++r)
    if (labels.label[size_t(r)] >= 0) {
      rows.push_back(r);
      by_class[labels.label[size_t(r)]].push_back(r);
    }
  rep.labelled = int64_t(rows.size());
  rep.classes = int64_t(by_class.size());
  auto sim = [&](int64_t a, int64_t b) {
    return cblas_sdot(d, vs.data().ptr<float>(int(a)), 1, vs.data().ptr<float>(int(b)), 1);
  };
  auto lab = [&](int64_t r) { return labels.label[size_t(r)]; };

  // (1) Top-k accuracy: one positive among N negatives; rank = negatives scoring higher
  // (ties count against the positive).
  std::mt19937_64 rng(p.seed);
  std::vector<int64_t> ranks;
  rep.negatives_used = 0;
  for (auto& [c, members] : by_class) {
    if (members.size() < 2) {
      rep.skipped_classes.push_back(labels.classes[size_t(c)]);
      continue;
    }
    std::vector<int64_t> others;
    for (int64_t r : rows)
      if (lab(r) != c) others.push_back(r);
    if (others.empty()) continue;
    std::vector<int64_t> qs = members;
    std::shuffle(qs.begin(), qs.end(), rng);
    if (int64_t(qs.size()) > p.queries_per_class) qs.resize(size_t(p.queries_per_class));
    const int neg = std::min<int>(p.negatives, int(others.size()));
    rep.negatives_used = std::max(rep.negatives_used, neg);
    for (int64_t q : qs) {
      int64_t pos;
      do pos = members[std::uniform_int_distribution<size_t>(0, members.size() - 1)(rng)];
      while (pos == q);
      std::vector<int64_t> pool = others;
      for (int i = 0; i < neg; ++i)  // partial Fisher-Yates: the first neg are a random subset
        std::swap(pool[size_t(i)], pool[std::uniform_int_distribution<size_t>(size_t(i), pool.size() - 1)(rng)]);
      const float sp = sim(q, pos);
      int64_t rank = 0;
      for (int i = 0; i < neg; ++i) rank += sim(q, pool[size_t(i)]) >= sp;
      ranks.push_back(rank);
    }
  }
  rep.queries = int64_t(ranks.size());
  for (int k : p.ks) {
    int64_t hit = 0;
    for (int64_t r : ranks) hit += r < k;
    rep.topk.push_back({k, ranks.empty() ? 0.0 : double(hit) / double(ranks.size())});
  }

  // (2) Leave-one-out k-NN and mAP over all labelled rows (blocked sgemm over labelled rows).
  const int64_t m = int64_t(rows.size());
  if (m < 2) return rep;
  cv::Mat x(int(m), d, CV_32F);
  for (int64_t i = 0; i < m; ++i) vs.data().row(int(rows[size_t(i)])).copyTo(x.row(int(i)));
  const int64_t block = 256;
  std::vector<float> s(size_t(block * m));
  int64_t ok1 = 0, ok5 = 0;
  double ap_sum = 0;
  for (int64_t b = 0; b < m; b += block) {
    const int64_t nb = std::min(block, m - b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(nb), int(m), d, 1.f, x.ptr<float>(int(b)), d,
                x.ptr<float>(), d, 0.f, s.data(), int(m));
    for (int64_t i = 0; i < nb; ++i) {
      const int64_t qi = b + i;
      const int c = lab(rows[size_t(qi)]);
      std::vector<std::pair<float, int64_t>> order;
      order.reserve(size_t(m - 1));
      for (int64_t j = 0; j < m; ++j)
        if (j != qi) order.push_back({s[size_t(i * m + j)], j});
      std::sort(order.begin(), order.end(), [](auto& a, auto& b2) {
        return a.first != b2.first ? a.first > b2.first : a.second < b2.second;
      });
      ok1 += lab(rows[size_t(order[0].second)]) == c;
      std::map<int, int> votes;
      const size_t k5 = std::min<size_t>(5, order.size());
      for (size_t t = 0; t < k5; ++t) ++votes[lab(rows[size_t(order[t].second)])];
      int best = -1, best_votes = 0;
      for (size_t t = 0; t < k5; ++t) {  // majority; ties go to the class seen first (nearest)
        const int cl = lab(rows[size_t(order[t].second)]);
        if (votes[cl] > best_votes) best = cl, best_votes = votes[cl];
      }
      ok5 += best == c;
      const int64_t relevant = int64_t(by_class[c].size()) - 1;
      if (relevant == 0) continue;
      int64_t hits = 0;
      double ap = 0;
      for (size_t t = 0; t < order.size() && hits < relevant; ++t)
        if (lab(rows[size_t(order[t].second)]) == c) ap += double(++hits) / double(t + 1);
      ap_sum += ap / double(relevant);
      ++rep.map_queries;
    }
  }
  rep.knn1 = double(ok1) / double(m);
  rep.knn5 = double(ok5) / double(m);
  rep.map = rep.map_queries ? ap_sum / double(rep.map_queries) : 0;
  return rep;
}

}  // namespace irbis

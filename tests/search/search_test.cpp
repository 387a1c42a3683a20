#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/search.h"

namespace irbis {
namespace {

// n unit vectors around `centres` Gaussian centres, coordinate j scaled by (1 + j)^-0.5 (a
// decaying spectrum, like real embeddings' PCA spectrum; isotropic noise has no neighbourhood
// structure that any index or reduction could keep).
cv::Mat mixture(int n, int d, int centres, float spread, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  cv::Mat c(centres, d, CV_32F), x(n, d, CV_32F);
  for (int i = 0; i < centres; ++i)
    for (int j = 0; j < d; ++j) c.at<float>(i, j) = g(rng);
  std::uniform_int_distribution<int> pick(0, centres - 1);
  for (int i = 0; i < n; ++i) {
    const int k = pick(rng);
    for (int j = 0; j < d; ++j) x.at<float>(i, j) = (c.at<float>(k, j) + spread * g(rng)) / std::sqrt(1.f + float(j));
    cv::normalize(x.row(i), x.row(i));
  }
  return x;
}

std::vector<int64_t> iota_ids(int n, int64_t first = 0) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[size_t(i)] = first + i;
  return v;
}

TEST(VectorSearch, ExactMatchesBruteForceAndClampsK) {
  const cv::Mat x = mixture(500, 64, 10, 0.5f, 1);  // NOLINT
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(500, 7), o);
  EXPECT_EQ(vs->status().kind, IndexKind::exact);
  const float* q = x.ptr<float>(3);
  const auto hits = vs->search(q, 5);
  ASSERT_EQ(hits.size(), 5u);
  EXPECT_EQ(hits[0].row, 3);
  EXPECT_NEAR(hits[0].similarity, 1.f, 1e-5);
  for (size_t i = 1; i < hits.size(); ++i) EXPECT_GE(hits[i - 1].similarity, hits[i].similarity);
  float best = -2;
  int64_t best_row = -1;
  for (int r = 0; r < 500; ++r) {
    if (r == 3) continue;
    const float s = float(x.row(r).dot(x.row(3)));
    if (s > best) best = s, best_row = r;
  }
  const auto ex = vs->search(q, 1, 3);
  EXPECT_EQ(ex[0].row, best_row);
  EXPECT_NEAR(ex[0].similarity, best, 1e-4);
  EXPECT_EQ(vs->search(q, 10000).size(), 500u);  // k larger than the collection
  EXPECT_EQ(vs->row_of_id(7 + 42), 42);
  EXPECT_EQ(vs->row_of_id(3), -1);
  // One thread per query (the server's setting) finds the same neighbours.
  o.single_thread_queries = true;
  auto st = VectorSearch::from_matrix(x.clone(), iota_ids(500, 7), o);
  for (int r : {3, 100, 499}) {
    const auto a = vs->search(x.ptr<float>(r), 20, r), b = st->search(x.ptr<float>(r), 20, r);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].row, b[i].row) << r << " rank " << i;
      EXPECT_NEAR(a[i].similarity, b[i].similarity, 1e-5);
    }
  }
}

double recall_at(const VectorSearch& a, const VectorSearch& exact, const cv::Mat& qs, int k) {
  int64_t hit = 0;
  for (int i = 0; i < qs.rows; ++i) {
    const auto t = exact.search_exact(qs.ptr<float>(i), k);
    const auto r = a.search(qs.ptr<float>(i), k);
    std::set<int64_t> truth;
    for (const auto& n : t) truth.insert(n.row);
    for (const auto& n : r) hit += truth.count(n.row);
  }
  return double(hit) / double(qs.rows * k);
}

// Recall of the approximate index against exact search (reported in docs/search.md).
TEST(VectorSearch, HnswRecallAgainstExact) {
  const cv::Mat x = mixture(20000, 128, 400, 0.6f, 2);
  const cv::Mat qs = mixture(200, 128, 400, 0.6f, 3);
  IndexOptions o;
  o.kind = IndexKind::hnsw;
  o.reduced_dim = 0;
  auto h = VectorSearch::from_matrix(x.clone(), iota_ids(20000), o);
  EXPECT_EQ(h->status().kind, IndexKind::hnsw);
  EXPECT_TRUE(h->status().built);
  const double r = recall_at(*h, *h, qs, 10);
  std::printf("hnsw recall@10 (20000 x 128, 400 centres): %.4f\n", r);
  EXPECT_GE(r, 0.95);
}

TEST(VectorSearch, HnswWithPcaReranksOnFullVectors) {
  const cv::Mat x = mixture(6000, 384, 100, 0.7f, 4);
  const cv::Mat qs = mixture(200, 384, 100, 0.7f, 5);
  IndexOptions o;
  o.kind = IndexKind::hnsw;
  o.reduced_dim = 64;
  auto h = VectorSearch::from_matrix(x.clone(), iota_ids(6000), o);
  EXPECT_EQ(h->status().indexed_dim, 64);
  const double r = recall_at(*h, *h, qs, 10);
  std::printf("hnsw+pca64 recall@10 (6000 x 384, 100 centres): %.4f\n", r);
  EXPECT_GE(r, 0.9);
  // Similarities are exact (re-ranked on the full vectors).
  const auto hits = h->search(qs.ptr<float>(0), 3);
  for (const auto& n : hits) EXPECT_NEAR(n.similarity, float(qs.row(0).dot(x.row(int(n.row)))), 1e-4);
}

// The web UI queries one index from many threads at once, with different k: a query must not
// depend on what the others ask for (the beam width is per query, not state of the graph).
TEST(VectorSearch, ConcurrentQueriesMatchSequential) {
  const cv::Mat x = mixture(4000, 64, 50, 0.7f, 8);
  const cv::Mat qs = mixture(48, 64, 50, 0.7f, 9);
  for (bool rerank : {true, false}) {
    IndexOptions o;
    o.kind = IndexKind::hnsw;
    o.reduced_dim = 0;
    o.ef_search = 16;  // small, so a wider beam (asked for by a large k) would change the answer
    o.rerank = rerank;
    auto h = VectorSearch::from_matrix(x.clone(), iota_ids(4000), o);
    const int ks[] = {1, 3, 200, 10};
    std::vector<std::vector<Neighbor>> want;
    for (int i = 0; i < qs.rows; ++i) want.push_back(h->search(qs.ptr<float>(i), ks[i % 4]));
    std::vector<std::vector<std::vector<Neighbor>>> got(4);
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t)
      pool.emplace_back([&, t] {
        for (int rep = 0; rep < 12; ++rep)
          for (int j = 0; j < qs.rows; ++j) {
            const int i = (j * 7 + t * 13) % qs.rows;  // every thread in another order
            auto r = h->search(qs.ptr<float>(i), ks[i % 4]);
            if (rep == 0) got[size_t(t)].push_back(std::move(r));
            else if (r != want[size_t(i)]) got[size_t(t)].push_back({});  // a mismatch: recorded below
          }
      });
    for (auto& th : pool) th.join();
    for (int t = 0; t < 4; ++t) {
      ASSERT_EQ(got[size_t(t)].size(), size_t(qs.rows)) << "rerank " << rerank << ": a repeated query differed";
      for (int j = 0; j < qs.rows; ++j)
        EXPECT_EQ(got[size_t(t)][size_t(j)], want[size_t((j * 7 + t * 13) % qs.rows)]) << "rerank " << rerank;
    }
  }
}

TEST(VectorSearch, AutomaticPicksBySize) {
  const cv::Mat x = mixture(300, 32, 5, 0.5f, 6);
  IndexOptions o;
  o.hnsw_min_images = 301;
  EXPECT_EQ(VectorSearch::from_matrix(x.clone(), iota_ids(300), o)->status().kind, IndexKind::exact);
  o.hnsw_min_images = 300;
  EXPECT_EQ(VectorSearch::from_matrix(x.clone(), iota_ids(300), o)->status().kind, IndexKind::hnsw);
  EXPECT_EQ(parse_index_kind("auto"), IndexKind::automatic);
  EXPECT_THROW(parse_index_kind("ivf"), UsageError);
}

TEST(BoxSummary, MatchesNumpyLinearQuantiles) {
  // numpy: np.percentile([1,2,3,4,5,6,7,8,9,100], [25,50,75]) = 3.25, 5.5, 7.75
  const auto b = box_summary({1, 2, 3, 4, 5, 6, 7, 8, 9, 100});
  EXPECT_DOUBLE_EQ(b.q1, 3.25);
  EXPECT_DOUBLE_EQ(b.median, 5.5);
  EXPECT_DOUBLE_EQ(b.q3, 7.75);
  EXPECT_DOUBLE_EQ(b.upper_whisker, 9);  // 100 > 7.75 + 1.5 * 4.5
  EXPECT_DOUBLE_EQ(b.lower_whisker, 1);
  EXPECT_EQ(b.high_outliers, 1);
  EXPECT_EQ(b.low_outliers, 0);
  EXPECT_EQ(box_summary({}).n, 0);
}

TEST(Unique, SkipsExactCopiesAndRanksTheLoner) {
  // Rows 0,1 identical vectors (a copy), 2 close to 0, 3 far from everything.
  cv::Mat x = (cv::Mat_<float>(4, 3) << 1, 0, 0, 1, 0, 0, 0.99f, 0.141f, 0, 0, 0, 1);
  for (int i = 0; i < 4; ++i) cv::normalize(x.row(i), x.row(i));
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x, iota_ids(4), o);
  const auto res = rank_unique(*vs, {}, 4, 2);
  ASSERT_EQ(res.rows.size(), 4u);
  EXPECT_EQ(res.rows[0].row, 3);
  EXPECT_NEAR(res.rows[0].distance, 1.0, 1e-5);
  for (const auto& u : res.rows)
    if (u.row == 0 || u.row == 1) {
      EXPECT_EQ(u.neighbor, 2);  // the identical copy is skipped
      EXPECT_GT(u.distance, 0.0);
    }
  EXPECT_TRUE(res.top_exact);
}

TEST(Unique, ApproximateTopRanksAreExact) {
  const cv::Mat x = mixture(12000, 64, 300, 0.8f, 7);
  IndexOptions o;
  o.kind = IndexKind::hnsw;
  o.reduced_dim = 0;
  o.M = 8;
  o.ef_search = 16;
  o.rerank_factor = 1;
  auto h = VectorSearch::from_matrix(x.clone(), iota_ids(12000), o);
  o.kind = IndexKind::exact;
  auto e = VectorSearch::from_matrix(x.clone(), iota_ids(12000), o);
  const auto a = rank_unique(*h, {}, 20);
  const auto b = rank_unique(*e, {}, 20);
  EXPECT_TRUE(a.top_exact);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a.rows[size_t(i)].row, b.rows[size_t(i)].row) << i;
    EXPECT_NEAR(a.rows[size_t(i)].distance, b.rows[size_t(i)].distance, 1e-5);
  }
}

TEST(Retrieval, PerfectClustersAndSingletonClass) {
  // Three tight classes plus one single-image class.
  const cv::Mat x = mixture(60, 32, 3, 0.0f, 8);  // spread 0: every class is one point
  cv::Mat y(61, 32, CV_32F);
  x.copyTo(y.rowRange(0, 60));
  y.row(60).setTo(0);
  y.at<float>(60, 0) = 1;
  LabelSet labels;
  labels.classes = {"a", "b", "c", "lonely"};
  // label rows by their vector (identical vectors = same class)
  std::vector<cv::Mat> seen;
  for (int r = 0; r < 60; ++r) {
    int c = -1;
    for (size_t s = 0; s < seen.size(); ++s)
      if (cv::norm(seen[s], x.row(r)) < 1e-6) c = int(s);
    if (c < 0) c = int(seen.size()), seen.push_back(x.row(r).clone());
    labels.label.push_back(c);
  }
  labels.label.push_back(3);
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(y, iota_ids(61), o);
  RetrievalParams p;
  p.negatives = 10;
  const auto rep = evaluate_retrieval(*vs, labels, p);
  ASSERT_EQ(rep.skipped_classes.size(), 1u);
  EXPECT_EQ(rep.skipped_classes[0], "lonely");
  EXPECT_EQ(rep.classes, 4);
  int64_t expected_queries = 0;
  for (int c = 0; c < 3; ++c) expected_queries += std::min(20, labels.count(c));
  EXPECT_EQ(rep.queries, expected_queries);
  EXPECT_GT(rep.topk[0].second, 0.0);  // positive ties with nothing from other classes
  EXPECT_DOUBLE_EQ(rep.topk[0].second, 1.0);
  EXPECT_NEAR(rep.knn1, 60.0 / 61.0, 1e-9);  // the lonely image cannot be right
  EXPECT_NEAR(rep.map, 1.0, 1e-9);
  EXPECT_EQ(rep.map_queries, 60);
}

// dupes --cnn grouping: extra pairs join groups, complete linkage bounds chains.
TEST(DupesExtra, CnnPairsJoinWithBoundedChaining) {
  std::vector<DupeItem> items(4);
  for (size_t i = 0; i < 4; ++i) {
    items[i].path = "p" + std::to_string(i);
    items[i].hash = 0xFFFFull << (16 * i);  // all far apart in hash space
    items[i].pixels = 100 - int64_t(i);
    items[i].content[0] = uint8_t(i + 1);
  }
  // CNN distances on a line: 0-1 0.05, 1-2 0.05, 0-2 0.10, 3 far.
  const float pos[4] = {0.f, 0.05f, 0.10f, 5.f};
  ExtraLinkage extra;
  extra.max_distance = 0.07f;
  extra.distance = [&](uint32_t a, uint32_t b) { return std::abs(pos[a] - pos[b]); };
  extra.pairs = {{0, 1, 0.05f}, {1, 2, 0.05f}};
  const auto g = group_duplicates(items, DupesParams{}, extra);
  ASSERT_EQ(g.size(), 1u);  // {0,1}; 2 cannot join since d(0,2) > 0.07
  EXPECT_EQ(g[0].keep, 0u);
  ASSERT_EQ(g[0].duplicates.size(), 1u);
  EXPECT_EQ(g[0].duplicates[0].index, 1u);
  EXPECT_EQ(g[0].duplicates[0].kind, DupeKind::cnn);
  EXPECT_NEAR(g[0].duplicates[0].similarity, 0.95, 1e-6);
  EXPECT_STREQ(dupe_kind_name(DupeKind::cnn), "cnn");
  DupesParams single;
  single.bound_chaining = false;
  const auto g2 = group_duplicates(items, single, extra);
  ASSERT_EQ(g2.size(), 1u);
  EXPECT_EQ(g2[0].duplicates.size(), 2u);  // single linkage chains 0~1~2
  // Without extra pairs it agrees with the plain grouping.
  items[3].hash = items[0].hash ^ 3;
  const auto plain = group_duplicates(items, DupesParams{});
  const auto none = group_duplicates(items, DupesParams{}, ExtraLinkage{});
  ASSERT_EQ(plain.size(), none.size());
  EXPECT_EQ(plain[0].keep, none[0].keep);
  EXPECT_EQ(plain[0].duplicates[0].index, none[0].duplicates[0].index);
  EXPECT_EQ(none[0].duplicates[0].kind, DupeKind::near);
}

TEST(DupesExtra, LowDetailItemsLinkByContentOnly) {
  // Three flat frames with equal hashes and CNN distance 0, two of them byte-identical: only the
  // identical pair groups, as in the plain hash grouping.
  std::vector<DupeItem> items(3);
  for (size_t i = 0; i < 3; ++i) {
    items[i].path = "flat" + std::to_string(i);
    items[i].hash = 0;
    items[i].low_detail = true;
    items[i].content[0] = uint8_t(i == 2 ? 1 : 2);
  }
  ExtraLinkage extra;
  extra.max_distance = 0.1f;
  extra.distance = [](uint32_t, uint32_t) { return 0.f; };
  extra.pairs = {{0, 1, 0.f}, {0, 2, 0.f}, {1, 2, 0.f}};
  for (const auto& g : {group_duplicates(items, DupesParams{}, extra), group_duplicates(items, DupesParams{})}) {
    ASSERT_EQ(g.size(), 1u);
    ASSERT_EQ(g[0].duplicates.size(), 1u);
    EXPECT_EQ(g[0].duplicates[0].kind, DupeKind::exact);
    EXPECT_NE(g[0].keep, 2u);
    EXPECT_NE(g[0].duplicates[0].index, 2u);
  }
}

}  // namespace
}  // namespace irbis

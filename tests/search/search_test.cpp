#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "irbis/dupes.h"
#include "irbis/errors.h"
#include "irbis/search.h"
#include "search/search_data.h"

namespace irbis {
namespace {

using test::iota_ids;
using test::mixture;

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

// The CLI (rows over threads) and the server (one thread per query) must give the same answer bit
// for bit: same similarities, same order, copies of an image tie-broken by row. Copies sit at
// many positions (block edges of any BLAS kernel), near-ties differ in the last bits only, and the
// scan is large enough for the threaded path. Failed when the CLI's path was an OpenBLAS sgemv
// (e2e.json_equality compares `irbis search --json` with /api/search).
TEST(VectorSearch, ExactQueriesAreBitIdenticalOnEveryThreadingPath) {
  const int n = 4500, d = 1024;  // 4.6 M floats: above the threaded-scan threshold
  cv::Mat x = mixture(n, d, 40, 0.6f, 21);
  for (int r : {1, 2, 3, 7, 64, 65, 127, 128, 255, 1000, 2047, 2048, 4095, 4499}) x.row(0).copyTo(x.row(r));
  for (int r : {10, 11, 500, 3333}) {  // near-ties of row 0: one coordinate nudged by an ulp
    x.row(0).copyTo(x.row(r));
    float& v = x.at<float>(r, r % d);
    v = std::nextafter(v, 2.f);
  }
  IndexOptions o;
  o.kind = IndexKind::exact;
  o.threads = 2;
  auto threaded = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  o.single_thread_queries = true;
  auto single = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  for (int q : {0, 10, 77, 4499}) {
    const auto a = threaded->search(x.ptr<float>(q), 40, q), b = single->search(x.ptr<float>(q), 40, q);
    ASSERT_EQ(a.size(), 40u);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].row, b[i].row) << "query " << q << " rank " << i;
      EXPECT_EQ(a[i].similarity, b[i].similarity) << "query " << q << " rank " << i;  // bit for bit
      if (i > 0 && a[i].similarity == a[i - 1].similarity) {
        EXPECT_LT(a[i - 1].row, a[i].row) << "ties by row";
      }
    }
  }
  // Row 0's 14 copies and 4 near-copies are its 18 nearest; the copies (equal similarities) in row
  // order.
  const std::vector<int64_t> copies{1, 2, 3, 7, 64, 65, 127, 128, 255, 1000, 2047, 2048, 4095, 4499};
  std::vector<int64_t> copies_found;
  for (const auto& nb : threaded->search(x.ptr<float>(0), 18, 0))
    if (std::find(copies.begin(), copies.end(), nb.row) != copies.end()) copies_found.push_back(nb.row);
  EXPECT_EQ(copies_found, copies);
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

// The shipped configuration above hnsw_min_images: PCA-256 of the default model's 2696-d
// descriptor, HNSW with the default M / ef, exact re-rank of 4k candidates. Queries are held-out
// draws from the same mixture (same centres), as a new photo of a collection's subjects would be.
// Most of the time is the PCA's 2696 x 2696 eigendecomposition (~15 s of CPU).
TEST(VectorSearch, DefaultConfigurationRecallOn2696d) {
  const int d = 2696, n = 6000, nq = 200;
  const cv::Mat all = mixture(n + nq, d, 600, 1.0f, 14, 15);  // ~10 per centre: top 10 crosses clusters
  const cv::Mat x = all.rowRange(0, n).clone(), qs = all.rowRange(n, n + nq).clone();
  IndexOptions o;  // defaults: reduced_dim 256, M 16, ef_construction 200, ef_search 128, rerank_factor 4
  o.kind = IndexKind::hnsw;  // forced: 6000 is below hnsw_min_images
  auto h = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  EXPECT_EQ(h->status().kind, IndexKind::hnsw);
  EXPECT_EQ(h->status().indexed_dim, 256);
  const double r = recall_at(*h, *h, qs, 10);
  std::printf("hnsw+pca256 recall@10 (6000 x 2696, 600 centres, default options): %.4f\n", r);
  EXPECT_GE(r, 0.95);
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
  EXPECT_DOUBLE_EQ(b.upper_fence(), 7.75 + 1.5 * 4.5);
  EXPECT_DOUBLE_EQ(b.lower_fence(), 3.25 - 1.5 * 4.5);
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

// Brute force over every pair: nearest non-duplicate and mean distance to the density_k nearest
// non-duplicates, where a duplicate has the same (non-zero) content hash or distance <= 1e-6.
struct Brute {
  double distance = -1, density = -1;
  int64_t neighbor = -1;
};
std::vector<Brute> brute_unique(const cv::Mat& x, const std::vector<ContentHash>& content, int density_k) {
  std::vector<Brute> out(size_t(x.rows));
  for (int a = 0; a < x.rows; ++a) {
    std::vector<std::pair<double, int>> d;
    for (int b = 0; b < x.rows; ++b) {
      if (b == a) continue;
      const double dist = 1.0 - x.row(a).dot(x.row(b));
      const bool same_hash = content[size_t(a)] == content[size_t(b)] && content[size_t(a)] != ContentHash{};
      if (!same_hash && dist > 1e-6) d.push_back({std::max(0.0, dist), b});
    }
    std::sort(d.begin(), d.end());
    if (d.empty()) continue;
    out[size_t(a)].neighbor = d[0].second;
    out[size_t(a)].distance = d[0].first;
    const size_t k = std::min(d.size(), size_t(density_k));
    double sum = 0;
    for (size_t i = 0; i < k; ++i) sum += d[i].first;
    out[size_t(a)].density = sum / double(k);
  }
  return out;
}

TEST(Unique, DistanceAndDensityMatchBruteForceWithCopies) {
  cv::Mat x = mixture(400, 32, 8, 0.5f, 16);
  std::vector<ContentHash> content(400);
  for (int i = 0; i < 400; ++i) content[size_t(i)] = {uint8_t(i), uint8_t(i >> 8), 1};
  // Rows 1..12 are byte copies of row 0 (same hash, same vector): more copies than the 8 spare
  // candidates, so they crowd every non-copy out of row 0's first neighbour list.
  for (int i = 1; i <= 12; ++i) {
    x.row(0).copyTo(x.row(i));
    content[size_t(i)] = content[0];
  }
  // 20 and 21: the same file hash with different vectors (the hash decides, not the distance).
  content[21] = content[20];
  // 30 and 31: the same vector, different files (distance 0 decides).
  x.row(31).copyTo(x.row(30));
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(400), o);
  const int dk = 5;
  const auto res = rank_unique(*vs, content, 400, dk);
  const auto want = brute_unique(x, content, dk);
  ASSERT_EQ(res.rows.size(), 400u);
  for (const auto& u : res.rows) {
    const auto& w = want[size_t(u.row)];
    EXPECT_NEAR(u.distance, w.distance, 1e-5) << "row " << u.row;
    EXPECT_NEAR(u.density, w.density, 1e-5) << "row " << u.row;
    EXPECT_NE(content[size_t(u.neighbor)], content[size_t(u.row)]) << "row " << u.row;
    EXPECT_GT(u.distance, 1e-6) << "row " << u.row;
    if (u.row == 20) { EXPECT_NE(u.neighbor, 21); }
    if (u.row == 21) { EXPECT_NE(u.neighbor, 20); }
    if (u.row == 30) { EXPECT_NE(u.neighbor, 31); }
    if (u.row <= 12) { EXPECT_GT(u.neighbor, 12) << "row " << u.row; }
  }
  // Ranked by distance, descending.
  for (size_t i = 1; i < res.rows.size(); ++i) EXPECT_GE(res.rows[i - 1].distance, res.rows[i].distance);
  // The same rows from an HNSW index: its exactly re-checked top ranks agree with brute force.
  o.kind = IndexKind::hnsw;
  o.reduced_dim = 0;
  auto h = VectorSearch::from_matrix(x.clone(), iota_ids(400), o);
  const auto hr = rank_unique(*h, content, 20, dk);
  ASSERT_TRUE(hr.top_exact);
  for (size_t i = 0; i < 20; ++i) {
    const auto& u = hr.rows[i];
    EXPECT_EQ(u.row, res.rows[i].row) << i;
    EXPECT_NEAR(u.density, want[size_t(u.row)].density, 1e-5) << "row " << u.row;
  }
}

// A coarse HNSW index of x (a small graph, a narrow beam, no re-rank), so unique's approximate
// distances need the exact re-check; `kind` exact gives brute force over the same rows.
std::unique_ptr<VectorSearch> coarse_index(const cv::Mat& x, IndexKind kind = IndexKind::hnsw) {
  IndexOptions o;
  o.kind = kind;
  o.reduced_dim = 0;
  o.M = 8;
  o.ef_search = 16;
  o.rerank_factor = 1;
  return VectorSearch::from_matrix(x.clone(), iota_ids(x.rows), o);
}

TEST(Unique, ApproximateTopRanksAreExact) {
  const cv::Mat x = mixture(12000, 64, 300, 0.8f, 7);
  auto h = coarse_index(x);
  auto e = coarse_index(x, IndexKind::exact);
  const auto a = rank_unique(*h, {}, 20);
  const auto b = rank_unique(*e, {}, 20);
  EXPECT_TRUE(a.top_exact);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a.rows[size_t(i)].row, b.rows[size_t(i)].row) << i;
    EXPECT_NEAR(a.rows[size_t(i)].distance, b.rows[size_t(i)].distance, 1e-5);
  }
}

// The re-check searches several rows per pass over the rows: the same answers as one row per pass
// (every row's neighbour, distance, density and exactness, and the count re-checked), whatever the
// batch; and each batched search is search_exact's, neighbour for neighbour.
TEST(Unique, BatchedRecheckGivesTheSameRanking) {
  const cv::Mat x = mixture(12000, 64, 300, 0.8f, 7);
  auto h = coarse_index(x);
  const auto one = rank_unique(*h, {}, 20, 5, 1);
  ASSERT_GT(one.rechecked, 8) << "the test needs several re-checks";
  for (const int batch : {2, 7, 32, 1000}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    const auto got = rank_unique(*h, {}, 20, 5, batch);
    EXPECT_EQ(got.rechecked, one.rechecked);
    EXPECT_EQ(got.top_exact, one.top_exact);
    ASSERT_EQ(got.rows.size(), one.rows.size());
    for (size_t i = 0; i < got.rows.size(); ++i) {
      const UniqueRow &a = got.rows[i], &b = one.rows[i];
      ASSERT_TRUE(a.row == b.row && a.neighbor == b.neighbor && a.distance == b.distance && a.density == b.density &&
                  a.exact == b.exact)
          << "rank " << i << ": row " << a.row << " vs " << b.row;
    }
  }
  const std::vector<int64_t> rows = {5, 11999, -1, 0, 5, 12000, 777};
  const auto lists = h->search_exact_rows(rows, 40);
  ASSERT_EQ(lists.size(), rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    if (rows[i] < 0 || rows[i] >= 12000) {
      EXPECT_TRUE(lists[i].empty());
      continue;
    }
    EXPECT_EQ(lists[i], h->search_exact(x.ptr<float>(int(rows[i])), 40, rows[i])) << "row " << rows[i];
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

// Unit vectors at the given angles (degrees) in the plane.
cv::Mat on_circle(const std::vector<double>& degrees) {
  cv::Mat x(int(degrees.size()), 2, CV_32F);
  for (size_t i = 0; i < degrees.size(); ++i) {
    x.at<float>(int(i), 0) = float(std::cos(degrees[i] * M_PI / 180));
    x.at<float>(int(i), 1) = float(std::sin(degrees[i] * M_PI / 180));
  }
  return x;
}

TEST(Retrieval, LeaveOneOutKnnByHand) {
  // Class a at 0..10 degrees, class b at 90..98 plus one b image at 1 degree among the a's.
  //   1-NN wrong: the intruder (its neighbours are a's), a@0 and a@2 (the intruder is nearest).
  //   5-NN wrong: only the intruder (a@0 and a@2 see 1 b and 4 a's; b@90 sees 4 b's and a@10).
  const cv::Mat x = on_circle({0, 2, 4, 6, 8, 10, 90, 92, 94, 96, 98, 1});
  LabelSet labels;
  labels.classes = {"a", "b"};
  labels.label = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x, iota_ids(12), o);
  const auto rep = evaluate_retrieval(*vs, labels, RetrievalParams{});
  EXPECT_NEAR(rep.knn1, 9.0 / 12.0, 1e-12);
  EXPECT_NEAR(rep.knn5, 11.0 / 12.0, 1e-12);
  EXPECT_EQ(rep.labelled, 12);
  EXPECT_EQ(rep.map_queries, 12);
}

// Classes of exactly two images and more negatives asked than exist: the positive and the
// negatives are then fixed (no randomness), so every query's rank can be counted by brute force.
TEST(Retrieval, TopKMatchesBruteForceAndIsMonotone) {
  const int classes = 20, d = 16, n = 2 * classes;
  std::mt19937_64 rng(17);
  std::normal_distribution<float> g(0.f, 1.f);
  cv::Mat x(n, d, CV_32F);
  LabelSet labels;
  for (int c = 0; c < classes; ++c) {
    labels.classes.push_back(std::to_string(c));
    std::vector<float> centre(d);
    for (auto& v : centre) v = g(rng);
    for (int m = 0; m < 2; ++m) {
      for (int j = 0; j < d; ++j) x.at<float>(2 * c + m, j) = centre[size_t(j)] + 0.9f * g(rng);
      cv::normalize(x.row(2 * c + m), x.row(2 * c + m));
      labels.label.push_back(c);
    }
  }
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  RetrievalParams p;
  p.negatives = 1000;
  p.ks = {1, 2, 4, 5, 8, 10, 15, 20, 28, 32, 38, 39};
  const auto rep = evaluate_retrieval(*vs, labels, p);
  EXPECT_EQ(rep.negatives_used, n - 2);
  EXPECT_EQ(rep.queries, n);
  std::vector<int> rank(static_cast<size_t>(n), 0);
  for (int q = 0; q < n; ++q) {
    const int pos = q ^ 1;
    const double sp = x.row(q).dot(x.row(pos));
    for (int j = 0; j < n; ++j)
      if (j / 2 != q / 2) rank[size_t(q)] += x.row(q).dot(x.row(j)) >= sp;
  }
  ASSERT_EQ(rep.topk.size(), p.ks.size());
  for (size_t i = 0; i < p.ks.size(); ++i) {
    const int k = p.ks[i];
    const double want = double(std::count_if(rank.begin(), rank.end(), [&](int r) { return r < k; })) / n;
    EXPECT_EQ(rep.topk[i].first, k);
    EXPECT_NEAR(rep.topk[i].second, want, 1e-12) << "k " << k;
    if (i) { EXPECT_GE(rep.topk[i].second, rep.topk[i - 1].second) << "k " << k; }
  }
  EXPECT_LT(rep.topk[0].second, 1.0);       // the data is noisy enough to rank some positives low
  EXPECT_DOUBLE_EQ(rep.topk.back().second, 1.0);  // k = negatives + 1: the positive is always within
}

TEST(Retrieval, NegativesUsedAndSeededDeterminism) {
  const cv::Mat x = mixture(150, 16, 5, 1.2f, 18);
  LabelSet labels;
  labels.classes = {"a", "b", "c"};
  for (int i = 0; i < 150; ++i) labels.label.push_back(i % 3);  // 50 each, labels unrelated to clusters
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(150), o);
  RetrievalParams p;
  p.queries_per_class = 10;
  p.negatives = 30;
  const auto a = evaluate_retrieval(*vs, labels, p);
  EXPECT_EQ(a.negatives_used, 30);
  EXPECT_EQ(a.queries, 30);
  for (size_t i = 0; i < a.topk.size(); ++i) {
    if (i) { EXPECT_GE(a.topk[i].second, a.topk[i - 1].second); }
    if (a.topk[i].first >= 31) { EXPECT_DOUBLE_EQ(a.topk[i].second, 1.0); }
  }
  const auto b = evaluate_retrieval(*vs, labels, p);
  EXPECT_EQ(a.topk, b.topk);
  EXPECT_EQ(a.knn1, b.knn1);
  EXPECT_EQ(a.map, b.map);
  // The seed drives the draws: some other seed gives other top-k figures.
  bool differs = false;
  for (uint64_t seed = 2; seed < 12 && !differs; ++seed) {
    RetrievalParams q = p;
    q.seed = seed;
    differs = evaluate_retrieval(*vs, labels, q).topk != a.topk;
  }
  EXPECT_TRUE(differs);
  // More negatives asked than there are: all 100 images of the other classes.
  p.negatives = 500;
  EXPECT_EQ(evaluate_retrieval(*vs, labels, p).negatives_used, 100);
}

TEST(Retrieval, NoQueryableClass) {
  // Every class a single image: nothing to query, k-NN still defined, mAP has no queries.
  const cv::Mat x = mixture(4, 8, 2, 0.5f, 19);
  LabelSet labels;
  labels.classes = {"a", "b", "c", "d"};
  labels.label = {0, 1, 2, 3};
  IndexOptions o;
  o.kind = IndexKind::exact;
  auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(4), o);
  const auto rep = evaluate_retrieval(*vs, labels, RetrievalParams{});
  EXPECT_EQ(rep.queries, 0);
  EXPECT_EQ(rep.skipped_classes.size(), 4u);
  EXPECT_EQ(rep.map_queries, 0);
  EXPECT_EQ(rep.knn1, 0.0);
}

// dupes --cnn grouping: extra pairs join groups, complete linkage bounds chains.
TEST(DupesExtra, CnnPairsJoinTheKeptImageOnly) {
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
  // 2 matches only the duplicate 1, never joins through it (keep-centred groups, docs/dupes.md).
  // With a band up to 0.12 and a verifier that confirms, 2 joins 0 directly as `verified`.
  DupesParams band;
  band.band.max_extra_distance = 0.12f;
  band.band.verify = [](uint32_t, uint32_t) { return PairCheck{true, 40}; };
  // The sure threshold (0.93) taken as sure, unverified: this test is about chaining
  // (VerifyPolicy.ASureButLowCnnPairIsVerified checks that pairs below 0.97 are verified).
  band.policy.verify_similarity_below = 0;
  // The pair (0, 2) is not among extra.pairs: 0 is a candidate of 2 only as the kept item of its
  // neighbour 1, and 2 is judged on d(0, 2) itself.
  const auto g2 = group_duplicates(items, band, extra);
  ASSERT_EQ(g2.size(), 1u);
  ASSERT_EQ(g2[0].duplicates.size(), 2u);
  EXPECT_EQ(g2[0].duplicates[1].index, 2u);
  EXPECT_EQ(g2[0].duplicates[1].kind, DupeKind::verified);
  EXPECT_NEAR(g2[0].duplicates[1].similarity, 0.90, 1e-6);
  // Refused by the verifier: 2 is kept alone (never a duplicate of 1, a duplicate itself).
  DupesParams refuse = band;
  refuse.band.verify = [](uint32_t, uint32_t) { return PairCheck{false, 3}; };
  const auto g2r = group_duplicates(items, refuse, extra);
  ASSERT_EQ(g2r.size(), 1u);
  ASSERT_EQ(g2r[0].duplicates.size(), 1u);
  EXPECT_EQ(g2r[0].duplicates[0].index, 1u);
  extra.pairs.push_back({0, 2, 0.10f});
  const auto g3 = group_duplicates(items, band, extra);
  ASSERT_EQ(g3.size(), 1u);
  ASSERT_EQ(g3[0].duplicates.size(), 2u);
  EXPECT_EQ(g3[0].duplicates[1].index, 2u);
  EXPECT_EQ(g3[0].duplicates[1].kind, DupeKind::verified);
  EXPECT_EQ(g3[0].duplicates[1].inliers, 40);
  extra.pairs.pop_back();
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

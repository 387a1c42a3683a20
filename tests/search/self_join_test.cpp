// The all-rows k-NN self-join (self_join_knn) and how VectorSearch::self_knn picks it.
#include <gtest/gtest.h>
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <set>

#include "irbis/issues.h"
#include "irbis/search.h"
#include "search/search_data.h"

namespace irbis {
namespace {

using test::iota_ids;
using test::mixture;
using Knn = std::vector<std::vector<Neighbor>>;

Knn exact_knn(const cv::Mat& x, int k) {
  IndexOptions o;
  o.kind = IndexKind::exact;
  return VectorSearch::from_matrix(x.clone(), iota_ids(x.rows), o)->self_knn_exact(k);
}

double recall(const Knn& got, const Knn& truth) {
  int64_t hit = 0, total = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    std::set<int64_t> t;
    for (const auto& nb : truth[i]) t.insert(nb.row);
    for (const auto& nb : got[i]) hit += int64_t(t.count(nb.row));
    total += int64_t(truth[i].size());
  }
  return double(hit) / double(total);
}

// Every list: min(k, n - 1) distinct rows, never the row itself, best first, similarities equal
// to the full rows' inner products.
void expect_well_formed(const cv::Mat& x, const Knn& knn, int k) {
  ASSERT_EQ(int64_t(knn.size()), int64_t(x.rows));
  for (int i = 0; i < x.rows; ++i) {
    const auto& v = knn[size_t(i)];
    ASSERT_EQ(int64_t(v.size()), std::min<int64_t>(k, x.rows - 1)) << "row " << i;
    std::set<int64_t> seen;
    for (size_t j = 0; j < v.size(); ++j) {
      EXPECT_NE(v[j].row, i);
      EXPECT_TRUE(seen.insert(v[j].row).second) << "row " << i << " lists " << v[j].row << " twice";
      EXPECT_NEAR(v[j].similarity, float(x.row(i).dot(x.row(int(v[j].row)))), 1e-4);
      if (j > 0) {
        EXPECT_GE(v[j - 1].similarity, v[j].similarity);
      }
    }
  }
}

// The shipped defaults except the dimensions: a 384-d mixture reduced to 64, so the reduction,
// the lists and the re-score all take part. Floor stated in docs/search.md.
TEST(SelfJoin, RecallAgainstExactOnMixture) {
  const cv::Mat x = mixture(8000, 384, 160, 0.7f, 21);
  SelfJoinOptions o;
  o.reduced_dim = 64;
  SelfJoinStats st;
  const Knn got = self_join_knn(x, 10, o, &st);
  expect_well_formed(x, got, 10);
  const double r = recall(got, exact_knn(x, 10));
  std::printf("self-join recall@10 (8000 x 384 -> 64, %d lists, nprobe 8): %.4f\n", st.lists, r);
  EXPECT_EQ(st.reduced_dim, 64);
  EXPECT_EQ(st.lists, 89);  // round(sqrt(8000))
  EXPECT_GE(r, 0.95);
  // The join compares each row with ~nprobe lists' members, not all rows.
  EXPECT_LT(st.compared, int64_t(x.rows) * x.rows / 4);
}

TEST(SelfJoin, SameAnswerOnOneThreadAndMany) {
  const cv::Mat x = mixture(3000, 96, 60, 0.7f, 22);
  SelfJoinOptions o;
  o.reduced_dim = 32;
  o.threads = 1;
  const Knn one = self_join_knn(x, 7, o);
  o.threads = 4;
  EXPECT_EQ(self_join_knn(x, 7, o), one);
}

// Exact copies: each copy's first neighbour is its twin (similarity 1), never itself.
TEST(SelfJoin, DuplicateRowsFindEachOther) {
  const cv::Mat base = mixture(2000, 64, 40, 0.7f, 23);
  cv::Mat x;
  cv::vconcat(base, base.rowRange(0, 300), x);  // rows 2000.. copy rows 0..299
  SelfJoinOptions o;
  o.reduced_dim = 24;
  const Knn got = self_join_knn(x, 5, o);
  expect_well_formed(x, got, 5);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(got[size_t(i)][0].row, 2000 + i);
    EXPECT_EQ(got[size_t(2000 + i)][0].row, i);
    EXPECT_NEAR(got[size_t(i)][0].similarity, 1.f, 1e-5);
  }
}

// Lists far smaller than k: a row keeps probing further lists until they hold enough rows, so it
// still gets k neighbours; with every list probed and no reduction the answer is exact.
TEST(SelfJoin, TinyListsStillGiveKNeighbours) {
  const cv::Mat x = mixture(400, 32, 8, 0.8f, 24);
  SelfJoinOptions o;
  o.reduced_dim = 0;
  o.lists = 200;  // ~2 rows per list
  o.nprobe = 1;
  const Knn got = self_join_knn(x, 12, o);
  expect_well_formed(x, got, 12);
  o.lists = 7;
  o.nprobe = 7;  // every list
  o.candidates = 399;
  const Knn all = self_join_knn(x, 12, o);
  const Knn truth = exact_knn(x, 12);
  for (int i = 0; i < x.rows; ++i)
    for (size_t j = 0; j < truth[size_t(i)].size(); ++j)
      EXPECT_NEAR(all[size_t(i)][j].similarity, truth[size_t(i)][j].similarity, 1e-5) << i << " " << j;
}

// Lists probed by more rows than one join block (kJoinBlock, 256): every row's similarities come
// from the block it fell in, so with every list probed, every candidate kept and no reduction the
// rows are the exact ones.
TEST(SelfJoin, ListsProbedByManyBlocksOfRowsGiveTheExactNeighbours) {
  const cv::Mat x = mixture(1100, 40, 20, 0.8f, 26);
  SelfJoinOptions o;
  o.reduced_dim = 0;
  o.lists = 3;
  o.nprobe = 3;  // every list, each probed by all 1100 rows: 5 blocks
  o.candidates = x.rows - 1;
  o.refine_share = 0;
  const Knn got = self_join_knn(x, 9, o);
  const Knn truth = exact_knn(x, 9);
  for (int i = 0; i < x.rows; ++i) {
    ASSERT_EQ(got[size_t(i)].size(), truth[size_t(i)].size()) << "row " << i;
    for (size_t j = 0; j < truth[size_t(i)].size(); ++j) {
      EXPECT_EQ(got[size_t(i)][j].row, truth[size_t(i)][j].row) << "row " << i << ", neighbour " << j;
      EXPECT_NEAR(got[size_t(i)][j].similarity, truth[size_t(i)][j].similarity, 1e-5);
    }
  }
}

// The k-means runs on one OpenMP and one OpenBLAS thread; the caller's settings come back.
TEST(SelfJoin, LeavesTheThreadSettingsAsItFoundThem) {
  const int omp_before = omp_get_max_threads(), blas_before = openblas_get_num_threads();
  const cv::Mat x = mixture(2000, 64, 40, 0.7f, 27);
  SelfJoinOptions o;
  o.reduced_dim = 16;
  o.threads = 2;
  EXPECT_EQ(self_join_knn(x, 5, o).size(), size_t(x.rows));
  EXPECT_EQ(omp_get_max_threads(), omp_before);
  EXPECT_EQ(openblas_get_num_threads(), blas_before);
}

TEST(SelfJoin, SmallAndDegenerateInputs) {
  const cv::Mat x = mixture(5, 16, 2, 0.5f, 25);
  EXPECT_EQ(self_join_knn(x.rowRange(0, 1).clone(), 3).at(0).size(), 0u);  // one row: no neighbour
  expect_well_formed(x, self_join_knn(x, 10), 10);                          // k >= n: the n - 1 others
  EXPECT_TRUE(self_join_knn(cv::Mat(0, 16, CV_32F), 3).empty());
  for (const auto& v : self_join_knn(x, 0)) EXPECT_TRUE(v.empty());
  // All-zero rows span no direction to reduce to: the full rows are compared.
  SelfJoinOptions o;
  o.reduced_dim = 4;
  const Knn z = self_join_knn(cv::Mat::zeros(50, 16, CV_32F), 3, o);
  for (const auto& v : z) EXPECT_EQ(v.size(), 3u);
}

// self_knn: exact below hnsw_min_images, the self-join from there on; open_graph = false builds no
// graph (search() is then exact).
TEST(SelfJoin, VectorSearchSwitchesAtTheExactThreshold) {
  const int n = 3000;
  const cv::Mat x = mixture(n, 64, 60, 0.7f, 26);
  IndexOptions o;
  o.hnsw_min_images = n + 1;  // n just below the switch
  auto below = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  EXPECT_TRUE(below->self_knn_is_exact());
  const Knn truth = below->self_knn(8);
  EXPECT_EQ(truth, below->self_knn_exact(8));
  o.hnsw_min_images = n;  // at the switch
  o.open_graph = false;
  o.join.reduced_dim = 16;
  auto above = VectorSearch::from_matrix(x.clone(), iota_ids(n), o);
  EXPECT_FALSE(above->self_knn_is_exact());
  EXPECT_EQ(above->status().kind, IndexKind::hnsw);
  EXPECT_FALSE(above->status().built);
  const Knn got = above->self_knn(8);
  EXPECT_EQ(got, self_join_knn(x, 8, o.join));
  EXPECT_NE(got, truth);  // reduced to 16 of 64 dimensions: some neighbours differ
  EXPECT_GE(recall(got, truth), 0.9);
  EXPECT_EQ(above->search(x.ptr<float>(5), 4), above->search_exact(x.ptr<float>(5), 4));
}

// unique's ranking over the self-join: the re-check still proves the top ranks exact.
TEST(SelfJoin, UniqueTopRanksAreExact) {
  const cv::Mat x = mixture(6000, 64, 150, 0.8f, 27);
  IndexOptions o;
  o.kind = IndexKind::hnsw;
  o.open_graph = false;
  o.join.reduced_dim = 12;  // coarse, so the approximate distances need the re-check
  auto j = VectorSearch::from_matrix(x.clone(), iota_ids(6000), o);
  o.kind = IndexKind::exact;
  auto e = VectorSearch::from_matrix(x.clone(), iota_ids(6000), o);
  const auto a = rank_unique(*j, {}, 20);
  const auto b = rank_unique(*e, {}, 20);
  EXPECT_TRUE(a.top_exact);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a.rows[size_t(i)].row, b.rows[size_t(i)].row) << i;
    EXPECT_NEAR(a.rows[size_t(i)].distance, b.rows[size_t(i)].distance, 1e-5);
  }
}

// A mixture with planted outliers: a group of three from one foreign centre (each other's nearest
// rows, so only the k-th neighbour, k > 2, shows them) and two singles, appended after row n.
cv::Mat mixture_with_strays(int n, int d, int centres, float spread, uint64_t seed) {
  const cv::Mat base = mixture(n, d, centres, spread, seed);
  const cv::Mat group = mixture(3, d, 1, 0.25f, seed + 200);  // its own centre
  const cv::Mat single1 = mixture(1, d, 1, 0.25f, seed + 100), single2 = mixture(1, d, 1, 0.25f, seed + 101);
  cv::Mat x;
  cv::vconcat(std::vector<cv::Mat>{base, group, single1, single2}, x);
  return x;
}

// Each row's distance to its k-th neighbour (-1 for a row without neighbours).
std::vector<double> kth_distances(const Knn& knn) {
  std::vector<double> kth(knn.size(), -1);
  for (size_t i = 0; i < knn.size(); ++i)
    if (!knn[i].empty()) kth[i] = 1.0 - knn[i].back().similarity;
  return kth;
}

// Rows whose k-th distance has a robust z-score above z_min (odd_one_out's neighbourhood term).
std::vector<int64_t> rows_with_z_above(const Knn& knn, double z_min) {
  const std::vector<double> kth = kth_distances(knn);
  const RobustStats st = kth_distance_stats(kth);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < kth.size(); ++i)
    if (kth[i] >= 0 && st.z(kth[i]) > z_min) rows.push_back(int64_t(i));
  return rows;
}

// Rows whose k-th distance is an outlier by odd_one_out's neighbourhood term (z > 4), furthest first.
std::vector<int64_t> far_rows(const Knn& knn) {
  const std::vector<double> kth = kth_distances(knn);
  std::vector<int64_t> rows = rows_with_z_above(knn, 4);
  std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return kth[size_t(a)] > kth[size_t(b)]; });
  return rows;
}

RowsToRefine far_candidates(double z_min) {
  return [z_min](const Knn& knn) { return rows_with_z_above(knn, z_min); };
}

// Rows a RowsToRefine names are searched against every list: with no reduction that is exact,
// whatever nprobe left out; the other rows keep their join answer.
TEST(SelfJoinRefine, NamedRowsGetExactNeighboursWithoutReduction) {
  const cv::Mat x = mixture(3000, 48, 60, 0.8f, 31);
  SelfJoinOptions o;
  o.reduced_dim = 0;
  o.nprobe = 1;
  o.refine_share = 0;
  const std::vector<int64_t> named = {0, 7, 512, 1999, 2999};
  SelfJoinStats st;
  const Knn plain = self_join_knn(x, 9, o);
  const Knn got = self_join_knn(x, 9, o, &st, [&](const Knn& first) {
    EXPECT_EQ(first, plain);  // asked once, with the join's answer
    return std::vector<int64_t>{2999, 0, 7, 512, 1999, 7, -1, 3000};  // unsorted, repeated, out of range
  });
  expect_well_formed(x, got, 9);
  EXPECT_EQ(st.exhaustive, 5);
  const Knn truth = exact_knn(x, 9);
  for (int64_t r : named)
    for (size_t j = 0; j < truth[size_t(r)].size(); ++j) {
      EXPECT_EQ(got[size_t(r)][j].row, truth[size_t(r)][j].row) << r << " " << j;
      EXPECT_NEAR(got[size_t(r)][j].similarity, truth[size_t(r)][j].similarity, 1e-5);
    }
  int changed = 0;
  for (int r = 0; r < x.rows; ++r)
    if (std::find(named.begin(), named.end(), r) == named.end()) changed += got[size_t(r)] != plain[size_t(r)];
  EXPECT_EQ(changed, 0);
}

// The refine pass (the rows furthest from their k-th neighbour probe more lists) only adds
// candidates: no row's k-th neighbour gets further, and the far rows' recall rises.
TEST(SelfJoinRefine, RefinePassNeverWorsensARow) {
  const cv::Mat x = mixture_with_strays(6000, 96, 120, 0.8f, 32);
  SelfJoinOptions o;
  o.reduced_dim = 16;
  o.nprobe = 2;
  o.refine_share = 0;
  const Knn before = self_join_knn(x, 7, o);
  o.refine_share = 0.1;
  o.refine_nprobe = 16;
  SelfJoinStats st;
  const Knn after = self_join_knn(x, 7, o, &st);
  expect_well_formed(x, after, 7);
  EXPECT_EQ(st.refined, 601);  // ceil(0.1 x 6005)
  const Knn truth = exact_knn(x, 7);
  int better = 0;
  for (int r = 0; r < x.rows; ++r) {
    EXPECT_GE(after[size_t(r)].back().similarity, before[size_t(r)].back().similarity) << r;
    better += after[size_t(r)].back().similarity > before[size_t(r)].back().similarity;
  }
  EXPECT_GT(better, 0);
  EXPECT_GT(recall(after, truth), recall(before, truth));
}

// What `issues` relies on: with the refine pass and the rows whose approximate neighbourhood z
// passes (less a margin) searched exhaustively, the self-join's far rows are exact's, the planted
// strays among them; the graph path with the same RowsToRefine too. nprobe 2, so the join alone
// is visibly off.
TEST(SelfJoinRefine, FarRowsAgreeWithExactAndFindThePlantedStrays) {
  const int n = 6000;
  const cv::Mat x = mixture_with_strays(n, 96, 120, 0.5f, 33);
  const Knn truth = exact_knn(x, 7);
  const std::vector<int64_t> exact_far = far_rows(truth);
  const auto holds_strays = [&](const std::vector<int64_t>& rows) {
    for (int64_t s = n; s < n + 5; ++s)
      if (std::find(rows.begin(), rows.end(), s) == rows.end()) return false;
    return true;
  };
  EXPECT_TRUE(holds_strays(exact_far));
  SelfJoinOptions o;
  o.reduced_dim = 48;
  o.nprobe = 2;
  o.refine_share = 0;
  const std::vector<int64_t> plain = far_rows(self_join_knn(x, 7, o));
  o.refine_share = 0.1;
  o.refine_nprobe = 16;
  SelfJoinStats st;
  const Knn got = self_join_knn(x, 7, o, &st, far_candidates(3.5));
  const std::vector<int64_t> refined = far_rows(got);
  std::printf("far rows: exact %zu, join alone %zu, refined %zu (%lld searched exhaustively)\n", exact_far.size(),
              plain.size(), refined.size(), static_cast<long long>(st.exhaustive));
  EXPECT_TRUE(holds_strays(refined));
  EXPECT_EQ(refined, exact_far);
  // The graph path (one HNSW query per row) with the same candidates searched exactly.
  IndexOptions ho;
  ho.kind = IndexKind::hnsw;
  ho.self_join = false;
  ho.reduced_dim = 48;
  auto graph = VectorSearch::from_matrix(x.clone(), iota_ids(x.rows), ho);
  const std::vector<int64_t> graph_far = far_rows(graph->self_knn(7, far_candidates(3.5)));
  EXPECT_TRUE(holds_strays(graph_far));
  EXPECT_EQ(graph_far, exact_far);
}

// The refine pass and the exhaustive rows give the same answer on one thread and many.
TEST(SelfJoinRefine, SameAnswerOnOneThreadAndMany) {
  const cv::Mat x = mixture_with_strays(4000, 64, 80, 0.8f, 34);
  SelfJoinOptions o;
  o.reduced_dim = 16;
  o.nprobe = 3;
  o.refine_nprobe = 12;
  o.threads = 1;
  const Knn one = self_join_knn(x, 7, o, nullptr, far_candidates(2.5));
  o.threads = 4;
  EXPECT_EQ(self_join_knn(x, 7, o, nullptr, far_candidates(2.5)), one);
}

// self_knn_exact's lists hold k entries (each once kept the capacity of all n candidates: n^2
// entries in all, 160 GB at 100 000 rows).
TEST(SelfJoinRefine, ExactListsHoldOnlyK) {
  const cv::Mat x = mixture(2000, 32, 40, 0.8f, 35);
  for (const auto& v : exact_knn(x, 5)) EXPECT_LE(v.capacity(), 5u);
}

// knn_exact_rows (issues' exact search of its candidates) gives the given rows' lists of
// self_knn_exact, in the order given and across sgemm blocks (more than 256 rows); a row out of
// range gets an empty list.
TEST(SelfJoinRefine, ExactRowsAreTheExactLists) {
  const cv::Mat x = mixture(1500, 48, 30, 0.7f, 36);
  IndexOptions o;
  o.kind = IndexKind::exact;
  const auto vs = VectorSearch::from_matrix(x.clone(), iota_ids(x.rows), o);
  const Knn all = vs->self_knn_exact(6);
  std::vector<int64_t> rows;
  for (int64_t r = x.rows - 1; r >= 0; r -= 4) rows.push_back(r);  // 375 rows, descending
  rows.push_back(x.rows);  // out of range
  const Knn got = vs->knn_exact_rows(rows, 6);
  ASSERT_EQ(got.size(), rows.size());
  for (size_t i = 0; i + 1 < rows.size(); ++i) EXPECT_EQ(got[i], all[size_t(rows[i])]) << "row " << rows[i];
  EXPECT_TRUE(got.back().empty());
}

}  // namespace
}  // namespace irbis

// The all-rows k-NN self-join (search.h, self_join_knn). One HNSW query per row is a chain of
// dependent random memory reads (~0.5 ms of CPU per row at 100 000 x 2696); here every phase is a
// dense matrix product or a linear scan:
//   1. reduce: the top principal directions of the rows, uncentred (inner products, not
//      distances from the mean, are what the ranking needs), by a randomized range finder on an
//      evenly spaced sample (Halko, Martinsson & Tropp 2011: one power iteration, Rayleigh-Ritz),
//      then one sgemm projects every row;
//   2. partition: k-means (FAISS, spherical, seeded) into ~sqrt(n) lists; each row's nprobe
//      nearest lists by centroid, its home list the nearest;
//   3. join: a list at a time, one sgemm of every row probing it (~nprobe sqrt(n) rows) against
//      its members (copied into list order, so each list is one contiguous block), each row's
//      best `candidates` kept (lists run in parallel; a row's candidates are under a striped lock);
//   4. re-score the candidates on the full rows and keep k;
//   5. refine: the share of rows furthest from their k-th neighbour (what `issues` and `unique`
//      rank first) probe more lists (refine_nprobe) and are re-scored;
//   6. the rows a caller's RowsToRefine names (its answer's candidates) probe every list: exact
//      in the reduced space, re-scored on the full rows.
// Candidates are ranked by (similarity, lower row), so the set kept does not depend on the order
// the lists ran in: the answer does not depend on the thread count. A change here that changes the
// answer bumps index_files::kSelfJoinRevision, so that answers saved before it are joined again.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <numeric>
#include <random>

#include <time.h>

#include <cblas.h>
#include <omp.h>
#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>

#include "irbis/errors.h"
#include "irbis/search.h"
#include "features/inner_product.h"
#include "search/parallel.h"

namespace irbis {
namespace {

using search_detail::parallel_for;
// Rows per join sgemm: a block's similarities against a list of ~sqrt(n) members stay in L2.
constexpr int64_t kJoinBlock = 256;

// A library's thread count at one while the object lives; restored on exit.
template <int (*get_threads)(), void (*set_threads)(int)>
class SingleThreaded {
 public:
  SingleThreaded() : saved_(get_threads()) { set_threads(1); }
  ~SingleThreaded() { set_threads(saved_); }
  SingleThreaded(const SingleThreaded&) = delete;
  SingleThreaded& operator=(const SingleThreaded&) = delete;

 private:
  int saved_;
};
// OpenMP (FAISS's k-means); OpenBLAS while our own threads each run their small sgemms (its
// threads would compete with ours for the same cores).
using SingleThreadedOmp = SingleThreaded<omp_get_max_threads, omp_set_num_threads>;
using SingleThreadedBlas = SingleThreaded<openblas_get_num_threads, openblas_set_num_threads>;

// CPU seconds of the process: the phases are timed in CPU, which a busy shared machine does not
// inflate the way it does wall time.
double process_cpu() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}


// Orthonormalises the rows of q (rows x d, row-major) in place (modified Gram-Schmidt, twice:
// float rounding leaves the first pass only roughly orthogonal). Rows that are (numerically) in
// the span of the earlier ones are dropped; returns the rows kept.
int orthonormalise_rows(std::vector<float>& q, int rows, int d) {
  int kept = 0;
  for (int a = 0; a < rows; ++a) {
    float* v = q.data() + size_t(a) * size_t(d);
    const float before = std::sqrt(cblas_sdot(d, v, 1, v, 1));
    for (int pass = 0; pass < 2; ++pass)
      for (int b = 0; b < kept; ++b) {
        const float* u = q.data() + size_t(b) * size_t(d);
        cblas_saxpy(d, -cblas_sdot(d, v, 1, u, 1), u, 1, v, 1);
      }
    const float after = std::sqrt(cblas_sdot(d, v, 1, v, 1));
    if (!(after > 1e-4f * before) || after == 0) continue;
    cblas_sscal(d, 1.f / after, v, 1);
    if (kept != a) std::copy_n(v, d, q.data() + size_t(kept) * size_t(d));
    ++kept;
  }
  q.resize(size_t(kept) * size_t(d));
  return kept;
}

// The top r uncentred principal directions of the sample s (m x d), as rows of an r' x d matrix
// (r' <= r when the sample spans fewer directions).
std::vector<float> principal_directions(const std::vector<float>& s, int m, int d, int r, uint64_t seed) {
  const int l = std::min({r + 16, d, m});  // oversampled sketch width
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> g(0.f, 1.f);
  std::vector<float> q(size_t(l) * size_t(d));  // l x d: the sketch's directions, one per row
  for (float& v : q) v = g(rng);
  std::vector<float> y(size_t(m) * size_t(l));
  int w = l;
  for (int it = 0; it < 2; ++it) {  // q <- orth((S^T S) q): the range sketch, then one power step
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w, d, 1.f, s.data(), d, q.data(), d, 0.f, y.data(), w);
    q.resize(size_t(w) * size_t(d));
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, w, d, m, 1.f, y.data(), w, s.data(), d, 0.f, q.data(), d);
    w = orthonormalise_rows(q, w, d);
    if (w == 0) return {};
  }
  // Rayleigh-Ritz: eigenvectors of q S^T S q^T (w x w) rotate q onto the principal directions.
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, w, d, 1.f, s.data(), d, q.data(), d, 0.f, y.data(), w);
  std::vector<float> b(size_t(w) * size_t(w));
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, w, w, m, 1.f, y.data(), w, y.data(), w, 0.f, b.data(), w);
  cv::Mat b64;
  cv::Mat(w, w, CV_32F, b.data()).convertTo(b64, CV_64F);
  cv::Mat evals, evecs;  // descending; eigenvectors as rows
  cv::eigen(b64, evals, evecs);
  const int keep = std::min(r, w);
  cv::Mat e32;
  evecs.rowRange(0, keep).convertTo(e32, CV_32F);
  std::vector<float> out(size_t(keep) * size_t(d));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, keep, d, w, 1.f, e32.ptr<float>(), w, q.data(), d, 0.f,
              out.data(), d);
  return out;
}

// Every row's best candidates so far, `cap` slots each, kept as a binary heap whose root is the
// worst by (similarity, lower row): a better candidate replaces the root and sinks, log(cap) steps
// where a scan for the new worst took cap (the named rows' tables are 92 wide). Which candidates
// are kept does not depend on how they are stored: the best `cap` by that order.
struct CandidateTable {
  int64_t cap;
  std::vector<float> sim;
  std::vector<int32_t> row;
  std::vector<int32_t> count;
  CandidateTable(int64_t n, int64_t c) : cap(c), sim(size_t(n * c)), row(size_t(n * c)), count(size_t(n), 0) {}
  static bool better(float s1, int32_t r1, float s2, int32_t r2) { return s1 != s2 ? s1 > s2 : r1 < r2; }
  // The lowest similarity a candidate must reach to enter (ties decided in push).
  float floor(int64_t q) const { return count[size_t(q)] < cap ? -INFINITY : sim[size_t(q * cap)]; }
  void push(int64_t q, float s, int32_t r) {
    float* qs = sim.data() + q * cap;
    int32_t* qr = row.data() + q * cap;
    int32_t& c = count[size_t(q)];
    int64_t i;
    if (c < cap) {  // rises past every parent it is worse than
      for (i = c++; i > 0;) {
        const int64_t up = (i - 1) / 2;
        if (!better(qs[up], qr[up], s, r)) break;
        qs[i] = qs[up];
        qr[i] = qr[up];
        i = up;
      }
    } else {  // replaces the worst, sinks below every child it is better than
      if (!better(s, r, qs[0], qr[0])) return;
      for (i = 0;;) {
        int64_t w = 2 * i + 1;
        if (w >= cap) break;
        if (w + 1 < cap && better(qs[w], qr[w], qs[w + 1], qr[w + 1])) ++w;  // the worse child
        if (!better(s, r, qs[w], qr[w])) break;
        qs[i] = qs[w];
        qr[i] = qr[w];
        i = w;
      }
    }
    qs[i] = s;
    qr[i] = r;
  }
};

}  // namespace

std::vector<std::vector<Neighbor>> self_join_knn(const cv::Mat& data, int k, const SelfJoinOptions& o,
                                                 SelfJoinStats* stats, const RowsToRefine& refine) {
  IRBIS_THROW_IF_NOT(data.empty() || (data.type() == CV_32F && data.isContinuous()), Error,
                     "self_join_knn needs a continuous CV_32F matrix");
  const int64_t n = data.rows;
  const int dim = data.cols;
  SelfJoinStats st;
  std::vector<std::vector<Neighbor>> out(static_cast<size_t>(n));
  if (n <= 1 || k <= 0) {
    if (stats) *stats = st;
    return out;
  }
  const int threads = search_detail::thread_count(o.threads);

  // 1. reduce
  double t = process_cpu();
  bool reduce = o.reduced_dim > 0 && o.reduced_dim < dim;
  std::vector<float> basis;  // r x dim
  int r = dim;
  if (reduce) {
    const int64_t m = std::min<int64_t>(n, std::max<int64_t>(o.fit_sample, o.reduced_dim));
    std::vector<float> sample(size_t(m) * size_t(dim));
    for (int64_t i = 0; i < m; ++i) std::copy_n(data.ptr<float>(int(i * n / m)), dim, sample.data() + i * dim);
    basis = principal_directions(sample, int(m), dim, o.reduced_dim, o.seed);
    r = int(basis.size() / size_t(dim));
    if (r == 0) {  // the sample spans no direction (zero rows): compare the full rows
      reduce = false;
      r = dim;
    }
  }
  st.reduced_dim = r;
  st.fit_s = process_cpu() - t;
  t = process_cpu();
  std::vector<float> reduced;  // n x r, row order
  if (reduce) {
    reduced.resize(size_t(n) * size_t(r));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(n), r, dim, 1.f, data.ptr<float>(), dim, basis.data(),
                dim, 0.f, reduced.data(), r);
  }
  const float* red = reduce ? reduced.data() : data.ptr<float>();
  st.project_s = process_cpu() - t;

  // 2. partition
  t = process_cpu();
  const int lists = int(std::clamp<int64_t>(o.lists > 0 ? o.lists : int64_t(std::lround(std::sqrt(double(n)))), 1, n));
  st.lists = lists;
  std::vector<float> centroids(size_t(lists) * size_t(r));
  if (lists == 1) {
    std::fill(centroids.begin(), centroids.end(), 0.f);
  } else {
    faiss::ClusteringParameters cp;
    cp.niter = 10;
    cp.seed = int(o.seed & 0x7fffffff);
    cp.spherical = true;
    cp.verbose = false;
    cp.min_points_per_centroid = 1;  // no "too few points" warning on stderr
    cp.max_points_per_centroid = int(std::max<int64_t>(1, o.train_per_list));
    faiss::Clustering clus(r, size_t(lists), cp);
    faiss::IndexFlatIP index(r);
    // One thread: k-means trains on ~train_per_list rows per list (20 000 at 100 000 rows), too
    // little work per iteration for two threads to repay their hand-offs (OpenMP and OpenBLAS
    // workers spin while they wait): 1.29 -> 0.55 s CPU at 100 000 rows, about the same wall time.
    // The centroids do not depend on the thread count (FAISS splits its sums by centroid).
    const SingleThreadedOmp single_omp;
    const SingleThreadedBlas single_blas_kmeans;
    clus.train(faiss::Index::idx_t(n), red, index);
    std::copy(clus.centroids.begin(), clus.centroids.end(), centroids.begin());
  }
  const int64_t cand = std::min<int64_t>(n - 1, o.candidates > 0 ? std::max(o.candidates, k) : std::max(2 * k, k + 16));
  const int nprobe = std::clamp(o.nprobe, 1, lists);
  const int ranked = std::min(lists, 4 * nprobe);  // lists ranked per row before counting members
  std::vector<int32_t> order(size_t(n) * size_t(ranked));  // per row: lists by centroid similarity
  SingleThreadedBlas single_blas;
  {
    const int64_t block = 512;
    parallel_for(
        (n + block - 1) / block, threads,
        [&](int64_t b) {
          const int64_t lo = b * block, rows = std::min(block, n - lo);
          std::vector<float> sims(size_t(rows) * size_t(lists));
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(rows), lists, r, 1.f, red + lo * r, r,
                      centroids.data(), r, 0.f, sims.data(), lists);
          std::vector<int32_t> idx(static_cast<size_t>(lists));
          for (int64_t i = 0; i < rows; ++i) {
            const float* s = sims.data() + i * lists;
            std::iota(idx.begin(), idx.end(), 0);
            std::partial_sort(idx.begin(), idx.begin() + ranked, idx.end(),
                              [&](int32_t a, int32_t c) { return s[a] != s[c] ? s[a] > s[c] : a < c; });
            std::copy_n(idx.begin(), ranked, order.begin() + (lo + i) * ranked);
          }
        },
        1);
  }
  std::vector<int64_t> start(size_t(lists) + 1, 0);  // list l's members: perm[start[l] .. start[l + 1])
  for (int64_t i = 0; i < n; ++i) ++start[size_t(order[size_t(i * ranked)]) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> perm(static_cast<size_t>(n)), pos = start;
  for (int64_t i = 0; i < n; ++i) perm[size_t(pos[size_t(order[size_t(i * ranked)])]++)] = i;
  std::vector<float> members(size_t(n) * size_t(r));  // reduced rows in list order
  parallel_for(n, threads, [&](int64_t p) { std::copy_n(red + perm[size_t(p)] * r, r, members.data() + p * r); }, 1024);
  reduced.clear();
  reduced.shrink_to_fit();
  red = nullptr;
  // The lists each row probes: its nprobe nearest, and further ranked ones while they hold fewer
  // than `cand` other rows; every list when even the ranked ones do not.
  auto probes_of = [&](int64_t i, std::vector<int32_t>& pr) {
    pr.clear();
    int64_t others = -1;
    for (int j = 0; j < ranked; ++j) {
      if (int(pr.size()) >= nprobe && others >= cand) return;
      const int32_t l = order[size_t(i * ranked + j)];
      pr.push_back(l);
      others += start[size_t(l) + 1] - start[size_t(l)];
    }
    if (others >= cand || int(pr.size()) == lists) return;
    for (int32_t l = 0; l < lists; ++l)
      if (std::find(pr.begin(), pr.end(), l) == pr.end()) pr.push_back(l);
  };
  st.cluster_s = process_cpu() - t;

  // 3. join
  t = process_cpu();
  std::vector<int64_t> pos_of(static_cast<size_t>(n));  // row -> position in list order
  for (int64_t p = 0; p < n; ++p) pos_of[size_t(perm[size_t(p)])] = p;
  CandidateTable table(n, cand);
  std::vector<std::mutex> locks(4096);
  std::atomic<int64_t> compared{0};
  // Compares each (row, list) pair of probes[] (rows in ascending order) and keeps candidates.
  // Candidates of row q go to slot slot_of(q) of `tab` (the row itself, or its place among the
  // named rows in their own wider table).
  std::vector<int32_t> named_slot;  // row -> slot in the named rows' table, -1 for the others
  CandidateTable* tab = &table;
  const auto slot_of = [&](int64_t q) { return named_slot.empty() ? q : int64_t(named_slot[size_t(q)]); };
  const auto join = [&](const std::vector<std::vector<int32_t>>& probes, const std::vector<int64_t>& rows) {
    std::vector<int64_t> qstart(size_t(lists) + 1, 0);  // rows probing list l: queries[qstart[l] .. qstart[l + 1])
    for (const auto& pr : probes)
      for (int32_t l : pr) ++qstart[size_t(l) + 1];
    std::partial_sum(qstart.begin(), qstart.end(), qstart.begin());
    std::vector<int32_t> queries(size_t(qstart.back()));
    std::vector<int64_t> at = qstart;
    for (size_t i = 0; i < rows.size(); ++i)
      for (int32_t l : probes[i]) queries[size_t(at[size_t(l)]++)] = int32_t(rows[i]);
    parallel_for(
        lists, threads,
        [&](int64_t l) {
          const int64_t m = start[size_t(l) + 1] - start[size_t(l)];
          const int64_t q0 = qstart[size_t(l)], nq = qstart[size_t(l) + 1] - q0;
          if (m == 0 || nq == 0) return;
          const float* mem = members.data() + start[size_t(l)] * r;
          // The rows probing the list a block at a time: a block's similarities are still in cache
          // when the scan reads them (all of a list's at once, ~3 MB at 100 000 rows, were not).
          const int64_t block = std::min<int64_t>(nq, kJoinBlock);
          std::vector<float> a_rows(size_t(block) * size_t(r)), sims(size_t(block) * size_t(m));
          for (int64_t b0 = 0; b0 < nq; b0 += block) {
            const int64_t nb = std::min(block, nq - b0);
            for (int64_t j = 0; j < nb; ++j)
              std::copy_n(members.data() + pos_of[size_t(queries[size_t(q0 + b0 + j)])] * r, r, a_rows.data() + j * r);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(nb), int(m), r, 1.f, a_rows.data(), r, mem, r, 0.f,
                        sims.data(), int(m));
            for (int64_t j = 0; j < nb; ++j) {
              const int64_t q = queries[size_t(q0 + b0 + j)];
              const float* sq = sims.data() + j * m;
              std::lock_guard<std::mutex> hold(locks[size_t(q) % locks.size()]);
              const int64_t at = slot_of(q);
              float floor = tab->floor(at);
              // 16 similarities at a time, skipped when none reaches the floor (most, once the row's
              // table is full; the floor only rises, so a skipped one could not have entered).
              for (int64_t x0 = 0; x0 < m; x0 += 16) {
                const int64_t x1 = std::min(m, x0 + 16);
                bool any = false;
                for (int64_t x = x0; x < x1; ++x) any |= sq[x] >= floor;
                if (!any) continue;
                for (int64_t x = x0; x < x1; ++x) {
                  const int64_t other = perm[size_t(start[size_t(l)] + x)];
                  if (sq[x] >= floor && other != q) {
                    tab->push(at, sq[x], int32_t(other));
                    floor = tab->floor(at);
                  }
                }
              }
            }
          }
          compared += nq * m;
        },
        1);
  };
  // 4. re-score on the full rows (rows given in list order: their candidates are mostly the same
  // few lists' rows).
  const auto rescore = [&](const std::vector<int64_t>& rows) {
    parallel_for(int64_t(rows.size()), threads, [&](int64_t i) {
      const int64_t row = rows[size_t(i)];
      const float* x = data.ptr<float>(int(row));
      const int64_t at = slot_of(row);
      std::vector<Neighbor> v(size_t(tab->count[size_t(at)]));
      for (size_t j = 0; j < v.size(); ++j) {
        const int32_t other = tab->row[size_t(at * tab->cap) + j];
        v[j] = {other, kernels::dot(x, data.ptr<float>(other), size_t(dim))};
      }
      // A re-score after a refine keeps the neighbours found before (new candidates can push one
      // out of the table by their reduced similarity): a refined row's k-th neighbour never gets
      // further.
      for (const Neighbor& was : out[size_t(row)])
        if (std::none_of(v.begin(), v.end(), [&](const Neighbor& c) { return c.row == was.row; })) v.push_back(was);
      const size_t kk = std::min(v.size(), size_t(k));
      std::partial_sort(v.begin(), v.begin() + long(kk), v.end(), [](const Neighbor& a1, const Neighbor& b1) {
        return a1.similarity != b1.similarity ? a1.similarity > b1.similarity : a1.row < b1.row;
      });
      v.resize(kk);
      out[size_t(row)] = std::move(v);
    });
  };
  std::vector<int64_t> all_rows(static_cast<size_t>(n));
  std::iota(all_rows.begin(), all_rows.end(), 0);
  {
    std::vector<std::vector<int32_t>> probes(static_cast<size_t>(n));
    parallel_for(n, threads, [&](int64_t i) { probes_of(i, probes[size_t(i)]); }, 1024);
    join(probes, all_rows);
  }
  st.join_s = process_cpu() - t;
  t = process_cpu();
  rescore(perm);
  st.rerank_s = process_cpu() - t;
  // 5. refine: the rows furthest from their k-th neighbour (the ones `issues` and `unique` single
  // out, and the likeliest to have neighbours behind list boundaries: a row far from everything is
  // far from every centroid too) probe their refine_nprobe nearest lists and are re-scored.
  t = process_cpu();
  const int refine_probe = std::min(lists, o.refine_nprobe > 0 ? o.refine_nprobe : lists);
  const int64_t refine_rows = std::min<int64_t>(n, int64_t(std::ceil(std::clamp(o.refine_share, 0.0, 1.0) * double(n))));
  // Rows that probed lists beyond probes_of (ascending) and those lists: a list is never probed
  // twice for a row (its candidates would enter the table twice).
  std::vector<int64_t> refined;
  std::vector<std::vector<int32_t>> refined_extra;
  const auto already_probed = [&](int64_t row, std::vector<int32_t>& pr) {
    probes_of(row, pr);
    const auto it = std::lower_bound(refined.begin(), refined.end(), row);
    if (it != refined.end() && *it == row) {
      const auto& more = refined_extra[size_t(it - refined.begin())];
      pr.insert(pr.end(), more.begin(), more.end());
    }
  };
  // The probe lists of `rows` (ascending) grow by their first `probe` lists by centroid
  // similarity (all lists when probe == lists); the new pairs are joined and the rows re-scored.
  const auto probe_more = [&](std::vector<int64_t> rows, int probe) {
    std::vector<std::vector<int32_t>> extra(rows.size());
    const int64_t block = 256;
    parallel_for(
        (int64_t(rows.size()) + block - 1) / block, threads,
        [&](int64_t b) {
          const int64_t lo = b * block, m = std::min<int64_t>(block, int64_t(rows.size()) - lo);
          std::vector<int32_t> idx(static_cast<size_t>(lists)), pr;
          std::vector<float> sims;
          if (probe < lists) {
            std::vector<float> a_rows(size_t(m) * size_t(r));
            sims.resize(size_t(m) * size_t(lists));
            for (int64_t j = 0; j < m; ++j)
              std::copy_n(members.data() + pos_of[size_t(rows[size_t(lo + j)])] * r, r, a_rows.data() + j * r);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), lists, r, 1.f, a_rows.data(), r,
                        centroids.data(), r, 0.f, sims.data(), lists);
          }
          for (int64_t j = 0; j < m; ++j) {
            std::iota(idx.begin(), idx.end(), 0);
            if (probe < lists) {
              const float* sj = sims.data() + j * lists;
              std::partial_sort(idx.begin(), idx.begin() + probe, idx.end(),
                                [&](int32_t a, int32_t c) { return sj[a] != sj[c] ? sj[a] > sj[c] : a < c; });
            }
            already_probed(rows[size_t(lo + j)], pr);
            for (int q = 0; q < probe; ++q)
              if (std::find(pr.begin(), pr.end(), idx[size_t(q)]) == pr.end()) extra[size_t(lo + j)].push_back(idx[size_t(q)]);
          }
        },
        1);
    join(extra, rows);
    // Remember what these rows probed (merged with what they had probed before).
    std::vector<int64_t> merged_rows;
    std::vector<std::vector<int32_t>> merged_extra;
    size_t a = 0, b = 0;
    while (a < refined.size() || b < rows.size()) {
      if (b == rows.size() || (a < refined.size() && refined[a] < rows[b])) {
        merged_rows.push_back(refined[a]);
        merged_extra.push_back(std::move(refined_extra[a++]));
      } else {
        merged_rows.push_back(rows[b]);
        std::vector<int32_t> e = std::move(extra[b]);
        if (a < refined.size() && refined[a] == rows[b]) {
          e.insert(e.end(), refined_extra[a].begin(), refined_extra[a].end());
          ++a;
        }
        merged_extra.push_back(std::move(e));
        ++b;
      }
    }
    refined = std::move(merged_rows);
    refined_extra = std::move(merged_extra);
    std::sort(rows.begin(), rows.end(), [&](int64_t x, int64_t y) { return pos_of[size_t(x)] < pos_of[size_t(y)]; });
    rescore(rows);
  };
  if (refine_rows > 0 && refine_probe > nprobe) {
    // The rows by k-th similarity, lowest first (ties: lower row), the first refine_rows kept.
    std::vector<int64_t> rows(static_cast<size_t>(n));
    std::iota(rows.begin(), rows.end(), 0);
    const auto kth = [&](int64_t i) { return out[size_t(i)].empty() ? -INFINITY : out[size_t(i)].back().similarity; };
    std::nth_element(rows.begin(), rows.begin() + long(refine_rows - 1), rows.end(), [&](int64_t a, int64_t b) {
      return kth(a) != kth(b) ? kth(a) < kth(b) : a < b;
    });
    rows.resize(size_t(refine_rows));
    std::sort(rows.begin(), rows.end());
    probe_more(std::move(rows), refine_probe);
    st.refined = refine_rows;
  }
  // 6. the rows the caller names (its answer's candidates) against every list.
  if (refine) {
    std::vector<int64_t> rows = refine(out);
    rows.erase(std::remove_if(rows.begin(), rows.end(), [&](int64_t i) { return i < 0 || i >= n; }), rows.end());
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    st.exhaustive = int64_t(rows.size());
    if (!rows.empty()) {
      // Their own table, 4x wider (the reduced space ranks only roughly, and these answers are
      // meant to be exact), filled from every list; the re-score keeps what the join found.
      CandidateTable wide(int64_t(rows.size()), std::min<int64_t>(n - 1, 4 * cand));
      named_slot.assign(size_t(n), -1);
      for (size_t j = 0; j < rows.size(); ++j) named_slot[size_t(rows[j])] = int32_t(j);
      std::vector<int32_t> every(static_cast<size_t>(lists));
      std::iota(every.begin(), every.end(), 0);
      tab = &wide;
      join(std::vector<std::vector<int32_t>>(rows.size(), every), rows);
      std::sort(rows.begin(), rows.end(), [&](int64_t x, int64_t y) { return pos_of[size_t(x)] < pos_of[size_t(y)]; });
      rescore(rows);
      tab = &table;
      named_slot.clear();
    }
  }
  st.refine_s = process_cpu() - t;
  st.compared = compared;
  if (stats) *stats = st;
  return out;
}

}  // namespace irbis

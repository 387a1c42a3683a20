// Vector search at scale on synthetic embeddings with structure (Gaussian mixture, unit norm):
// build time, query latency p50/p99 at k = 10, recall@10 against exact, memory, for exact
// (OpenBLAS), irbis's HNSW (hnswlib + AVX-512 kernel) and FAISS IndexHNSWFlat (Debian build,
// SSE only); then `unique` on a second set (--unique-refine S1,S2: the self-join with these refine
// shares, default 0.1; --unique-graph 1: also the per-row graph path it replaced; --unique-batch
// B1,B2: the re-check's rows per pass, each timed, default 32). Writes the graphs, queries and ground truth to --out
// so bench/search_python.py can time the same indexes from Python. Not a test; bounded options.
//   build/bench/search_bench --n 200000 --dim 256 --centres 2000 --out /tmp/sb
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <faiss/IndexHNSW.h>
#include <faiss/index_io.h>
#include <omp.h>
#include <opencv2/core.hpp>

#include "irbis/npy.h"
#include "irbis/search.h"
#include "synthetic_embeddings.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
double cpu_s() {  // process CPU seconds (all threads)
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
double rss_gb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_maxrss) / 1048576.0;
}

// Coordinate j of the synthetic embeddings scaled by (1 + j)^-alpha (synthetic_embeddings.h).
float g_alpha = 0.5f;
cv::Mat mixture(int64_t n, int d, int centres, float spread, uint64_t seed, uint64_t centre_seed) {
  return irbis::bench::mixture(n, d, centres, spread, seed, centre_seed, g_alpha);
}

struct Lat {
  double p50, p99, mean;
};
Lat latencies(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double s = 0;
  for (double x : v) s += x;
  return {v[v.size() / 2] * 1e3, v[size_t(double(v.size()) * 0.99)] * 1e3, s / double(v.size()) * 1e3};
}

double recall(const std::vector<std::vector<int64_t>>& got, const std::vector<std::vector<int64_t>>& truth) {
  int64_t hit = 0, all = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    std::set<int64_t> t(truth[i].begin(), truth[i].end());
    for (int64_t r : got[i]) hit += t.count(r);
    all += int64_t(truth[i].size());
  }
  return double(hit) / double(all);
}

void save_npy(const std::string& path, const cv::Mat& m) {
  irbis::NpyWriter w(path, m.rows, m.cols);
  for (int i = 0; i < m.rows; ++i) w.write_row({m.ptr<float>(i), size_t(m.cols)});
  w.close();
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines as they come
  int64_t n = 200000, unique_n = 100000;
  int unique_graph = 0;
  std::string unique_refine = "0.1";  // SelfJoinOptions::refine_share values for the self-join path (comma list)
  std::string unique_batch = "32";    // rank_unique's recheck_batch values (comma list; 1: one pass over the rows per re-check)
  int dim = 256, centres = 2000, queries = 1000, k = 10, unique_dim = 2696, ef = 128;
  float spread = 0.6f;
  bool faiss_too = true;
  int reduce = 0;  // > 0: the product path, PCA to this dim + exact re-rank on the full vectors
  std::string out = "/tmp/irbis-search-bench";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--dim") dim = std::stoi(v);
    else if (a == "--centres") centres = std::stoi(v);
    else if (a == "--queries") queries = std::stoi(v);
    else if (a == "--spread") spread = std::stof(v);
    else if (a == "--alpha") g_alpha = std::stof(v);
    else if (a == "--ef") ef = std::stoi(v);
    else if (a == "--faiss") faiss_too = v != "0";
    else if (a == "--reduce") reduce = std::stoi(v);
    else if (a == "--unique-n") unique_n = std::stoll(v);
    else if (a == "--unique-dim") unique_dim = std::stoi(v);
    else if (a == "--unique-graph") unique_graph = std::stoi(v);
    else if (a == "--unique-refine") unique_refine = v;
    else if (a == "--unique-batch") unique_batch = v;
    else if (a == "--out") out = v;
  }
  std::filesystem::create_directories(out);
  std::printf("data: n=%lld dim=%d centres=%d spread=%.2f alpha=%.2f queries=%d k=%d\n", (long long)n, dim, centres,
              spread, g_alpha, queries, k);
  auto t = Clock::now();
  cv::Mat x = mixture(n, dim, centres, spread, 1, 42);
  const cv::Mat q = mixture(queries, dim, centres, spread, 2, 42);
  std::printf("generated in %.1f s, %.2f GB of vectors\n", since(t), double(x.total()) * 4 / 1e9);
  save_npy(out + "/queries.npy", q);
  std::vector<int64_t> ids(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ids[size_t(i)] = i;

  irbis::IndexOptions eo;
  eo.kind = irbis::IndexKind::exact;
  auto exact = irbis::VectorSearch::from_matrix(x, ids, eo);  // shares x's buffer
  std::vector<std::vector<int64_t>> truth;
  std::vector<double> lat;
  for (int i = 0; i < queries; ++i) {
    const auto t0 = Clock::now();
    const auto r = exact->search_exact(q.ptr<float>(i), k);
    lat.push_back(since(t0));
    truth.emplace_back();
    for (const auto& nb : r) truth.back().push_back(nb.row);
  }
  Lat l = latencies(lat);
  std::printf("exact (OpenBLAS sgemv): p50 %.2f ms  p99 %.2f ms\n", l.p50, l.p99);
  {
    std::ofstream f(out + "/truth.csv");
    for (const auto& r : truth) {
      for (size_t j = 0; j < r.size(); ++j) f << (j ? "," : "") << r[j];
      f << '\n';
    }
  }

  irbis::IndexOptions ho;
  ho.kind = irbis::IndexKind::hnsw;
  ho.reduced_dim = reduce;  // 0: the data is already at the indexed dimension
  ho.rerank = reduce > 0;   // bare graph (as Python sees it) unless reduced
  ho.ef_search = ef;
  t = Clock::now();
  auto h = irbis::VectorSearch::from_matrix(x, ids, ho);
  const double build = since(t);
  h->save_hnsw(out + "/irbis.hnsw");
  const auto bytes = std::filesystem::file_size(out + "/irbis.hnsw");
  std::vector<std::vector<int64_t>> got;
  lat.clear();
  for (int i = 0; i < queries; ++i) {
    const auto t0 = Clock::now();
    const auto r = h->search(q.ptr<float>(i), k);
    lat.push_back(since(t0));
    got.emplace_back();
    for (const auto& nb : r) got.back().push_back(nb.row);
  }
  l = latencies(lat);
  std::printf("irbis hnsw (hnswlib M=16 efC=200 ef=%d, indexed dim %d%s): build %.1f s, p50 %.3f ms p99 %.3f ms, recall@10 %.4f, "
              "index %.0f MB, peak RSS %.2f GB\n",
              ef, h->status().indexed_dim, reduce > 0 ? " + exact re-rank" : "", build, l.p50, l.p99, recall(got, truth),
              double(bytes) / 1e6, rss_gb());
  h.reset();

  if (faiss_too) {
    faiss::IndexHNSWFlat fi(dim, 16, faiss::METRIC_INNER_PRODUCT);
    fi.hnsw.efConstruction = 200;
    t = Clock::now();
    fi.add(n, x.ptr<float>());
    const double fb = since(t);
    fi.hnsw.efSearch = ef;
    omp_set_num_threads(1);  // one query at a time, one thread, like the hnswlib runs
    faiss::write_index(&fi, (out + "/faiss.index").c_str());
    std::vector<float> dist(static_cast<size_t>(k));
    std::vector<faiss::Index::idx_t> lab(static_cast<size_t>(k));
    got.clear();
    lat.clear();
    for (int i = 0; i < queries; ++i) {
      const auto t0 = Clock::now();
      fi.search(1, q.ptr<float>(i), k, dist.data(), lab.data());
      lat.push_back(since(t0));
      got.emplace_back(lab.begin(), lab.end());
    }
    l = latencies(lat);
    std::printf("faiss IndexHNSWFlat (M=16 efC=200 ef=%d): build %.1f s, p50 %.3f ms p99 %.3f ms, recall@10 %.4f, "
                "peak RSS %.2f GB\n",
                ef, fb, l.p50, l.p99, recall(got, truth), rss_gb());
  }
  exact.reset();
  x.release();

  if (unique_n > 0) {
    cv::Mat u = mixture(unique_n, unique_dim, centres, spread, 3, 43);
    std::vector<int64_t> uid(static_cast<size_t>(unique_n));
    for (int64_t i = 0; i < unique_n; ++i) uid[size_t(i)] = i;
    // What `irbis unique` runs (no graph: the k-NN self-join, then the exact re-check of the top),
    // then with --unique-graph 1 the path before it (HNSW over PCA-256 built, one query per row).
    std::vector<double> shares;
    for (size_t at = 0; at <= unique_refine.size();) {
      const size_t comma = std::min(unique_refine.find(',', at), unique_refine.size());
      shares.push_back(std::stod(unique_refine.substr(at, comma - at)));
      at = comma + 1;
    }
    std::vector<std::pair<int, double>> runs;  // (graph, refine share)
    for (double sh : shares) runs.push_back({0, sh});
    if (unique_graph) runs.push_back({1, 0.0});
    // unique's answer against exact nearest neighbours on ~2 000 evenly spaced rows (every row
    // exactly would be ~54 TFLOP at 100 000 x 2696), and each run's first 100 ranks against the
    // first run's.
    std::vector<int64_t> sample;
    for (int64_t i = 0; i < unique_n; i += std::max<int64_t>(1, unique_n / 2000)) sample.push_back(i);
    std::vector<double> exact_d;
    std::vector<int64_t> first_top;
    for (const auto& [graph, share] : runs) {
      irbis::IndexOptions uo;  // automatic: above hnsw_min_images
      uo.open_graph = graph == 1;
      uo.self_join = graph == 0;
      uo.join.refine_share = share;
      t = Clock::now();
      const double c0 = cpu_s();
      auto us = irbis::VectorSearch::from_matrix(u, uid, uo);
      const double ub = since(t), ubc = cpu_s() - c0;
      // The ranking once per re-check batch (the same ranking for each: checked row by row).
      std::vector<int> batches;
      for (size_t at = 0; at <= unique_batch.size();) {
        const size_t comma = std::min(unique_batch.find(',', at), unique_batch.size());
        batches.push_back(std::stoi(unique_batch.substr(at, comma - at)));
        at = comma + 1;
      }
      irbis::UniqueResult res;
      for (const int batch : batches) {
        t = Clock::now();
        const double c1 = cpu_s();
        irbis::UniqueResult got = irbis::rank_unique(*us, {}, 20, 5, batch);
        const double wall = since(t), cpu = cpu_s() - c1;
        bool same = true;
        if (!res.rows.empty()) {
          same = got.rechecked == res.rechecked && got.rows.size() == res.rows.size();
          for (size_t i = 0; same && i < got.rows.size(); ++i)
            same = got.rows[i].row == res.rows[i].row && got.rows[i].distance == res.rows[i].distance &&
                   got.rows[i].exact == res.rows[i].exact && got.rows[i].density == res.rows[i].density;
        }
        std::printf("unique (%s, refine share %g, re-check batch %d): n=%lld dim=%d, index open %.1f s (%.1f s CPU), ranking %.1f s (%.1f s CPU) "
                    "(re-checked %lld exactly, top-20 exact: %s%s), peak RSS %.2f GB\n",
                    graph ? "per-row HNSW queries, graph built" : "self-join, no graph", graph ? 0.0 : share, batch,
                    (long long)unique_n, unique_dim, ub, ubc, wall, cpu, (long long)got.rechecked,
                    got.top_exact ? "yes" : "no", res.rows.empty() ? "" : same ? "; same ranking as the first batch" : "; RANKING DIFFERS",
                    rss_gb());
        std::fflush(stdout);
        if (res.rows.empty()) res = std::move(got);
      }
      if (exact_d.empty()) {
        t = Clock::now();
        for (const auto& nb : us->knn_exact_rows(sample, 1)) exact_d.push_back(nb.empty() ? -1 : 1.0 - nb[0].similarity);
        std::printf("  exact nearest neighbours of %zu sampled rows: %.1f s\n", sample.size(), since(t));
      }
      std::vector<double> dist(static_cast<size_t>(unique_n), -1);
      for (const auto& r : res.rows) dist[size_t(r.row)] = r.distance;
      size_t same = 0;
      double rel = 0, worst = 0;
      for (size_t i = 0; i < sample.size(); ++i) {
        const double e = exact_d[i], d = dist[size_t(sample[i])];
        if (e <= 0 || d < 0) continue;
        same += std::abs(d - e) <= 1e-5 * std::max(1e-3, e);
        rel += (d - e) / e;
        worst = std::max(worst, (d - e) / e);
      }
      std::vector<int64_t> top;
      for (size_t i = 0; i < std::min<size_t>(100, res.rows.size()); ++i) top.push_back(res.rows[i].row);
      if (first_top.empty()) first_top = top;
      size_t common20 = 0, common100 = 0;
      for (size_t i = 0; i < top.size(); ++i) {
        common100 += std::count(first_top.begin(), first_top.end(), top[i]);
        if (i < 20) common20 += std::count(first_top.begin(), first_top.begin() + std::min<long>(20, long(first_top.size())), top[i]);
      }
      std::printf("  vs exact on the sample: %zu of %zu distances exact, mean relative error %+.3f %%, worst %+.1f %%; "
                  "first 20 / 100 ranks in the first run's: %zu / %zu\n",
                  same, sample.size(), 100 * rel / double(sample.size()), 100 * worst, common20, common100);
      std::fflush(stdout);
    }
  }
  return 0;
}

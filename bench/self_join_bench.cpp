// Recall and time of the all-rows k-NN self-join (self_join_knn) against the exact self_knn and
// the per-row HNSW path, on a Gaussian mixture like issues_bench's or on stored embedding rows
// (a collection's features/emb.<model>.f files: raw little-endian f32 rows, concatenated).
//   build/bench/self_join_bench --n 20000 --k 7                       (mixture, 2696-d)
//   build/bench/self_join_bench --rows a.f,b.f --dim 2696 --k 7        (real embeddings)
// Options: --reduced R --nprobe P --candidates C --lists L --refine-share S --refine-nprobe Q (one
// self-join configuration each, as a comma list: every combination is run), --hnsw 1 (also the
// graph path), --threads T, --exact 0 (no exact reference: times only, recall printed as 0).
// Each path's odd ones out by the neighbourhood term alone (odd_one_out's robust z of the k-th
// distance above 4, issues.h kth_distance_stats) are compared with exact's: how many, and how many
// of exact's first 20 / 100 / all the path finds. --refine-z Z (a comma list; -1 = none): the rows
// whose approximate z is above Z are searched exhaustively (issues' RowsToRefine, neighbourhood
// term alone).

#include <bit>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "irbis/issues.h"
#include "irbis/search.h"
#include "bench_clock.h"
#include "synthetic_embeddings.h"

namespace {

using irbis::bench::Clock;
using irbis::bench::since;
double cpu_seconds() { return irbis::bench::process_cpu_seconds(); }

std::vector<int> int_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) v.push_back(std::stoi(part));
  return v;
}

// Rows of the files (each a whole number of dim-float rows), normalised; zero rows (failed
// images) and repeats of a row (the same image in two collections) dropped; at most n, evenly spaced.
cv::Mat load_rows(const std::string& files, int dim, int64_t n) {
  std::vector<float> all;
  std::set<std::string> seen;
  std::stringstream in(files);
  for (std::string f; std::getline(in, f, ',');) {
    std::ifstream s(f, std::ios::binary);
    std::vector<float> row(static_cast<size_t>(dim));
    while (s.read(reinterpret_cast<char*>(row.data()), std::streamsize(row.size() * sizeof(float)))) {
      double nn = 0;
      for (float x : row) nn += double(x) * x;
      if (nn <= 0 || !seen.insert(std::string(reinterpret_cast<const char*>(row.data()), row.size() * sizeof(float))).second)
        continue;
      for (float& x : row) x = float(x / std::sqrt(nn));
      all.insert(all.end(), row.begin(), row.end());
    }
  }
  const int64_t have = int64_t(all.size() / size_t(dim));
  const int64_t m = std::min(have, n);
  cv::Mat x(int(m), dim, CV_32F);
  for (int64_t i = 0; i < m; ++i) std::copy_n(all.data() + (i * have / m) * dim, dim, x.ptr<float>(int(i)));
  return x;
}

double recall(const std::vector<std::vector<irbis::Neighbor>>& got, const std::vector<std::vector<irbis::Neighbor>>& truth) {
  int64_t hit = 0, total = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    std::set<int64_t> t;
    for (const auto& nb : truth[i]) t.insert(nb.row);
    for (const auto& nb : got[i]) hit += t.count(nb.row);
    total += int64_t(truth[i].size());
  }
  return total ? double(hit) / double(total) : 1.0;
}

// Mean relative error of the k-th neighbour's distance (what `issues` uses) against exact.
double kth_error(const std::vector<std::vector<irbis::Neighbor>>& got, const std::vector<std::vector<irbis::Neighbor>>& truth) {
  double s = 0;
  int64_t c = 0;
  for (size_t i = 0; i < truth.size(); ++i) {
    if (truth[i].empty() || got[i].empty()) continue;
    const double t = 1.0 - truth[i].back().similarity, g = 1.0 - got[i].back().similarity;
    s += t > 0 ? (g - t) / t : 0;
    ++c;
  }
  return c ? s / double(c) : 0;
}

// FNV-1a over every list's rows and similarity bits: equal digests, equal answers (two builds,
// two thread counts).
uint64_t answer_digest(const std::vector<std::vector<irbis::Neighbor>>& knn) {
  uint64_t h = 1469598103934665603ull;
  const auto mix = [&h](uint64_t v) {
    for (int b = 0; b < 8; ++b) h = (h ^ ((v >> (8 * b)) & 0xff)) * 1099511628211ull;
  };
  for (const auto& v : knn) {
    mix(v.size());
    for (const auto& nb : v) mix(uint64_t(nb.row)), mix(std::bit_cast<uint32_t>(nb.similarity));
  }
  return h;
}

std::vector<double> doubles(const std::string& s) {
  std::vector<double> v;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, ',');) v.push_back(std::stod(part));
  return v;
}

// Rows whose k-th distance is an outlier by odd_one_out's neighbourhood term (z > z_min), furthest first.
std::vector<int64_t> far_rows(const std::vector<std::vector<irbis::Neighbor>>& knn, double z_min = 4) {
  std::vector<double> kth(knn.size(), -1);
  for (size_t i = 0; i < knn.size(); ++i)
    if (!knn[i].empty()) kth[i] = 1.0 - knn[i].back().similarity;
  const irbis::RobustStats st = irbis::kth_distance_stats(kth);
  std::vector<int64_t> rows;
  for (size_t i = 0; i < kth.size(); ++i)
    if (kth[i] >= 0 && st.z(kth[i]) > z_min) rows.push_back(int64_t(i));
  std::sort(rows.begin(), rows.end(), [&](int64_t a, int64_t b) { return kth[size_t(a)] != kth[size_t(b)] ? kth[size_t(a)] > kth[size_t(b)] : a < b; });
  return rows;
}

size_t common_top(const std::vector<int64_t>& a, const std::vector<int64_t>& b, size_t top) {
  const std::set<int64_t> sb(b.begin(), b.begin() + long(std::min(top, b.size())));
  size_t c = 0;
  for (size_t i = 0; i < std::min(top, a.size()); ++i) c += sb.count(a[i]);
  return c;
}

// "far rows N (exact M), of exact's first 20: a, 100: b, all: c"
std::string far_summary(const std::vector<std::vector<irbis::Neighbor>>& got, const std::vector<int64_t>& exact_far) {
  const auto f = far_rows(got);
  char buf[200];
  std::snprintf(buf, sizeof buf, "far rows %zu (exact %zu), common top 20: %zu, top 100: %zu, all: %zu", f.size(),
                exact_far.size(), common_top(f, exact_far, 20), common_top(f, exact_far, 100),
                common_top(f, exact_far, std::max(f.size(), exact_far.size())));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 20000;
  int dim = 2696, k = 7, threads = 0, hnsw = 0, with_exact = 1;
  std::string rows, reduced = "256", nprobe = "8", candidates = "0", lists = "0", refine_share = "0.1",
                    refine_nprobe = "32", refine_z = "-1";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--n") n = std::stoll(v);
    else if (a == "--dim") dim = std::stoi(v);
    else if (a == "--k") k = std::stoi(v);
    else if (a == "--rows") rows = v;
    else if (a == "--reduced") reduced = v;
    else if (a == "--nprobe") nprobe = v;
    else if (a == "--candidates") candidates = v;
    else if (a == "--lists") lists = v;
    else if (a == "--refine-share") refine_share = v;
    else if (a == "--refine-nprobe") refine_nprobe = v;
    else if (a == "--refine-z") refine_z = v;
    else if (a == "--threads") threads = std::stoi(v);
    else if (a == "--hnsw") hnsw = std::stoi(v);
    else if (a == "--exact") with_exact = std::stoi(v);
    else {
      std::cerr << "unknown option " << a << "\n";
      return 2;
    }
  }
  const cv::Mat x = rows.empty() ? irbis::bench::mixture(n, dim, int(std::max<int64_t>(1, n / 50)), 0.6f, 1, 2)
                                 : load_rows(rows, dim, n);
  std::printf("data: %s, %d x %d, k %d\n", rows.empty() ? "mixture (n/50 centres, spread 0.6)" : rows.c_str(), x.rows,
              x.cols, k);
  std::vector<int64_t> ids(static_cast<size_t>(x.rows));
  for (int i = 0; i < x.rows; ++i) ids[size_t(i)] = i;
  irbis::IndexOptions eo;
  eo.kind = irbis::IndexKind::exact;
  eo.threads = threads;
  auto exact = irbis::VectorSearch::from_matrix(x, ids, eo);
  auto t = Clock::now();
  double c = cpu_seconds();
  const auto truth = with_exact ? exact->self_knn_exact(k) : std::vector<std::vector<irbis::Neighbor>>(size_t(x.rows));
  std::printf("exact: %.2f s wall, %.2f s CPU\n", since(t), cpu_seconds() - c);
  const std::vector<int64_t> exact_far = far_rows(truth);
  if (hnsw) {
    irbis::IndexOptions ho;
    ho.kind = irbis::IndexKind::hnsw;
    ho.self_join = false;
    ho.threads = threads;
    t = Clock::now();
    c = cpu_seconds();
    auto h = irbis::VectorSearch::from_matrix(x, ids, ho);
    const double build = since(t), build_cpu = cpu_seconds() - c;
    t = Clock::now();
    c = cpu_seconds();
    const auto got = h->self_knn(k);
    std::printf("hnsw (per-row graph queries): build %.2f s wall / %.2f s CPU, self_knn %.2f s wall / %.2f s CPU, "
                "recall@%d %.4f, k-th distance error %+.5f, %s\n",
                build, build_cpu, since(t), cpu_seconds() - c, k, recall(got, truth), kth_error(got, truth),
                far_summary(got, exact_far).c_str());
  }
  for (int r : int_list(reduced))
    for (int p : int_list(nprobe))
      for (int cand : int_list(candidates))
        for (int l : int_list(lists))
          for (double rs : doubles(refine_share))
            for (int rp : int_list(refine_nprobe))
              for (double rz : doubles(refine_z)) {
          irbis::SelfJoinOptions o;
          o.refine_share = rs;
          o.refine_nprobe = rp;
          o.reduced_dim = r;
          o.nprobe = p;
          o.candidates = cand;
          o.lists = l;
          o.threads = threads;
          irbis::SelfJoinStats st;
          t = Clock::now();
          c = cpu_seconds();
          const irbis::RowsToRefine far = [&](const std::vector<std::vector<irbis::Neighbor>>& knn) { return far_rows(knn, rz); };
          const auto got = irbis::self_join_knn(x, k, o, &st, rz >= 0 ? far : irbis::RowsToRefine{});
          std::printf("self-join reduced %d lists %d nprobe %d candidates %d refine %g x %d, z > %g (%lld rows): %.2f s "
                      "wall, %.2f s CPU (fit %.2f, project %.2f, cluster %.2f, join %.2f, rerank %.2f, refine %.2f), "
                      "recall@%d %.4f, k-th distance error %+.5f, %s, answer digest %016llx\n",
                      st.reduced_dim, st.lists, p, cand, rs, rp, rz, static_cast<long long>(st.exhaustive), since(t),
                      cpu_seconds() - c, st.fit_s, st.project_s,
                      st.cluster_s, st.join_s, st.rerank_s, st.refine_s, k, recall(got, truth), kth_error(got, truth),
                      far_summary(got, exact_far).c_str(), static_cast<unsigned long long>(answer_digest(got)));
          std::fflush(stdout);
        }
  return 0;
}

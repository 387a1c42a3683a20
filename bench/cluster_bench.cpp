// Cluster analysis benchmarks (k-means, silhouette, auto-k sweep, PCA, t-SNE) on synthetic data.
//   build/bench/cluster_bench --benchmark_filter=KMeans
//   build/bench/cluster_bench --calibrate        # prints the "no structure" calibration table
//   build/bench/cluster_bench --kmeans FILE.f32 N D K RESTARTS ITERS [TOL [MAX_POINTS_PER_CENTROID]]  # used by cluster_vs_sklearn.sh
//   build/bench/cluster_bench --silsweep FILE.f32 N D LABELS.i32 NLABELLINGS SAMPLE
//   build/bench/cluster_bench --autok FILE.f32 N D KMIN KMAX
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "analysis/synthetic_data.h"
#include "irbis/cluster.h"

using namespace irbis;
using Clock = std::chrono::steady_clock;

namespace {

static void BM_KMeans(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int d = 64, k = static_cast<int>(st.range(1));
  const auto x = analysis::make_blobs(n, d, 20, 1.0, 3);
  KMeansParams p;
  p.k = k;
  p.restarts = 1;
  p.iterations = 10;
  for (auto _ : st) benchmark::DoNotOptimize(kmeans(MatrixView(x.data(), n, d), p).inertia);
}
BENCHMARK(BM_KMeans)->Args({10000, 20})->Args({20000, 100})->Unit(benchmark::kMillisecond);

static void BM_Silhouette(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int d = 256;
  std::vector<int> lab;
  const auto x = analysis::make_blobs(n, d, 10, 1.0, 5, &lab);
  for (auto _ : st) benchmark::DoNotOptimize(silhouette_score(MatrixView(x.data(), n, d), lab, 5000));
}
BENCHMARK(BM_Silhouette)->Arg(2000)->Arg(5000)->Unit(benchmark::kMillisecond);

static void BM_Tsne(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int d = 32;
  const auto x = analysis::make_blobs(n, d, 10, 1.0, 7);
  TsneParams p;
  p.iterations = 300;
  for (auto _ : st) benchmark::DoNotOptimize(tsne(MatrixView(x.data(), n, d), p).data());
}
BENCHMARK(BM_Tsne)->Arg(1000)->Arg(5000)->Unit(benchmark::kMillisecond)->Iterations(1);

static void BM_Pca(benchmark::State& st) {
  const int64_t n = st.range(0);
  const int d = 256;
  const auto x = analysis::make_gaussian(n, d, 9, 0.02);
  for (auto _ : st) benchmark::DoNotOptimize(pca_project(MatrixView(x.data(), n, d)).data());
}
BENCHMARK(BM_Pca)->Arg(20000)->Unit(benchmark::kMillisecond);

template <class T>
std::vector<T> read_raw(const char* file, size_t count) {
  std::vector<T> v(count);
  std::ifstream f(file, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(T)));
  if (!f) { std::fprintf(stderr, "cannot read %zu values from %s\n", count, file); std::exit(2); }
  return v;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

void calibrate() {
  struct Case { const char* name; std::vector<float> x; int64_t n; int d; };
  std::vector<Case> cases;
  const int64_t n = 2000;
  for (int d : {2, 16, 256}) {
    cases.push_back({"blobs k=3", analysis::make_blobs(n, d, 3, 1.0, 11, nullptr, 8.0), n, d});
    cases.push_back({"blobs k=7", analysis::make_blobs(n, d, 7, 1.0, 12, nullptr, 8.0), n, d});
    cases.push_back({"blobs k=5 overlapping (std 2.5)", analysis::make_blobs(n, d, 5, 2.5, 13, nullptr, 8.0), n, d});
    cases.push_back({"blobs k=4 weak (std 4)", analysis::make_blobs(n, d, 4, 4.0, 17, nullptr, 8.0), n, d});
    cases.push_back({"uniform", analysis::make_uniform(n, d, 14), n, d});
    cases.push_back({"uniform (seed 2)", analysis::make_uniform(n, d, 24), n, d});
    cases.push_back({"single gaussian", analysis::make_gaussian(n, d, 15), n, d});
    cases.push_back({"gaussian, decaying spectrum", analysis::make_gaussian(n, d, 16, d > 2 ? 0.1 : 0.7), n, d});
  }
  std::printf("%-34s %4s %6s %9s %9s %7s %s\n", "data (n=2000)", "d", "best k", "best sil", "null sil", "margin", "verdict");
  for (const auto& c : cases) {
    KMeansParams p;
    p.restarts = 3;
    p.iterations = 25;
    const AutoKResult a = choose_k(MatrixView(c.x.data(), c.n, c.d), 2, 12, p);
    std::printf("%-34s %4d %6d %9.3f %9.3f %7.3f %s\n", c.name, c.d, a.best_k, a.best_silhouette, a.null_silhouette,
                a.best_silhouette - a.null_silhouette, a.clear_structure ? "clear" : "no clear structure");
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], "--demo") == 0) {  // writes example plots and reports to a folder
    const std::string dir = argv[2];
    const int64_t n = 3000;
    const int d = 64;
    std::vector<int> truth;
    const auto x = analysis::make_blobs(n, d, 6, 2.0, 5, &truth, 8.0);
    ClusterParams p;
    p.auto_k = true;
    p.k_max = 15;
    const ClusterReport r = analyze_clusters(MatrixView(x.data(), n, d), p, truth);
    std::vector<std::string> names;
    for (int64_t i = 0; i < n; ++i) names.push_back("folder" + std::to_string(truth[i]) + "/img" + std::to_string(i) + ".jpg");
    std::ofstream csv(dir + "/clusters.csv");
    write_cluster_csv(csv, r, names);
    std::ofstream(dir + "/report.json") << cluster_report_json(r, names).dump(2) << "\n";
    for (const char* ext : {".svg", ".png"}) {
      plot_map(dir + "/map" + ext, r.map, r.kmeans.labels, r.k);
      plot_k_curves(dir + "/k" + ext, r.table, r.k, r.elbow_k);
    }
    std::printf("%s", format_k_table(r).c_str());
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--calibrate") == 0) { calibrate(); return 0; }
  if (argc >= 8 && argc <= 10 && std::strcmp(argv[1], "--kmeans") == 0) {
    const int64_t n = std::atoll(argv[3]);
    const int d = std::atoi(argv[4]);
    const auto x = read_raw<float>(argv[2], static_cast<size_t>(n) * d);
    KMeansParams p;
    p.k = std::atoi(argv[5]);
    p.restarts = std::atoi(argv[6]);
    p.iterations = std::atoi(argv[7]);
    p.tolerance = argc >= 9 ? std::atof(argv[8]) : 0;  // 0: exactly `iterations` steps, like sklearn tol=0
    if (argc == 10) p.max_points_per_centroid = std::atoi(argv[9]);  // FAISS training subsample
    const auto t0 = Clock::now();
    const KMeansResult r = kmeans(MatrixView(x.data(), n, d), p);
    std::printf("irbis kmeans: %.3f s  inertia %.6g\n", seconds_since(t0), r.inertia);
    return 0;
  }
  if (argc == 8 && std::strcmp(argv[1], "--silsweep") == 0) {
    const int64_t n = std::atoll(argv[3]);
    const int d = std::atoi(argv[4]);
    const int nlab = std::atoi(argv[6]);
    const auto x = read_raw<float>(argv[2], static_cast<size_t>(n) * d);
    const auto raw = read_raw<int32_t>(argv[5], static_cast<size_t>(n) * nlab);
    std::vector<std::vector<int>> labs(nlab);
    std::vector<std::span<const int>> spans;
    for (int t = 0; t < nlab; ++t) {
      labs[t].assign(raw.begin() + static_cast<int64_t>(t) * n, raw.begin() + static_cast<int64_t>(t + 1) * n);
      spans.emplace_back(labs[t]);
    }
    const auto t0 = Clock::now();
    const auto s = silhouette_scores(MatrixView(x.data(), n, d), spans, std::atoi(argv[7]));
    std::printf("irbis silhouette sweep (%d labellings): %.3f s\nscores", nlab, seconds_since(t0));
    for (double v : s) std::printf(" %.6f", v);
    std::printf("\n");
    return 0;
  }
  if (argc == 7 && std::strcmp(argv[1], "--autok") == 0) {
    const int64_t n = std::atoll(argv[3]);
    const int d = std::atoi(argv[4]);
    const auto x = read_raw<float>(argv[2], static_cast<size_t>(n) * d);
    ClusterParams p;
    p.auto_k = true;
    p.k_min = std::atoi(argv[5]);
    p.k_max = std::atoi(argv[6]);
    p.map = "none";
    const auto t0 = Clock::now();
    const ClusterReport r = analyze_clusters(MatrixView(x.data(), n, d), p);
    std::printf("irbis auto-k sweep %d..%d: %.3f s  chosen k %d\n%s", p.k_min, p.k_max, seconds_since(t0), r.k,
                format_k_table(r).c_str());
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// Training speed of the logistic-regression classifier on synthetic embeddings: 100 k rows of the
// default model's descriptor dimension (2696), 10 classes (noisy class centres, rows
// L2-normalised like real descriptors; the classes overlap). One fit with a fixed penalty, and the whole `train`
// work (split, 3-fold CV over 6 penalties on a 20 k subsample, final fit, evaluation, refit).
// train_auto: what the default `irbis train` does on IRBIS_BENCH_AUTO_ROWS (10 000) images and
// 11 classes: the three default input candidates (2696-d, 3720-d, 3720-d) cross-validated
// together, the temperature's fold fits, the final fit, evaluation and the refit on every image.
// train_auto_with_rff: the same with a fourth candidate, blocks-sqrt-rff (4096 random Fourier
// features of the last, mapped inside the timed loop).
//   build/bench/classify_bench --benchmark_filter=fit
// Rows and dim: IRBIS_BENCH_ROWS / IRBIS_BENCH_DIM environment variables (defaults 100000 / 2696).
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "irbis/classifier.h"

namespace {

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

struct Data {
  cv::Mat X;
  std::vector<int> y;
  std::vector<std::string> classes;
};

Data make_data(int n, int D, int K, uint64_t seed) {
  Data d;
  cv::RNG rng(seed);
  cv::Mat centres(K, D, CV_32F);
  rng.fill(centres, cv::RNG::NORMAL, 0, 0.03);  // overlapping classes (~85 % accuracy)
  d.X.create(n, D, CV_32F);
  rng.fill(d.X, cv::RNG::NORMAL, 0, 1);
  for (int i = 0; i < n; ++i) {
    const int c = i % K;
    d.y.push_back(c);
    cv::Mat row = d.X.row(i);
    row += centres.row(c);
    row /= cv::norm(row);
  }
  for (int k = 0; k < K; ++k) {
    char name[16];
    std::snprintf(name, sizeof name, "c%d", k);
    d.classes.emplace_back(name);
  }
  return d;
}

const Data& data() {
  static Data d = make_data(env_int("IRBIS_BENCH_ROWS", 100000), env_int("IRBIS_BENCH_DIM", 2696), 10, 1);
  return d;
}

void fit(benchmark::State& state) {
  const Data& d = data();
  irbis::FitOptions o;
  o.l2 = 1e-2;
  for (auto _ : state) {
    const irbis::LogisticModel m = irbis::fit_logistic(d.X, d.y, 10, o);
    state.counters["iterations"] = m.iterations;
    const auto pred = irbis::argmax_rows(m.predict_proba(d.X));
    state.counters["train_acc"] = irbis::evaluate(d.y, pred, 10).accuracy;
  }
  state.counters["rows"] = d.X.rows;
  state.counters["dim"] = d.X.cols;
}

void train(benchmark::State& state) {
  const Data& d = data();
  irbis::TrainOptions o;
  for (auto _ : state) {
    const irbis::TrainResult r = irbis::train_classifier(d.X, d.y, d.classes, o);
    state.counters["test_acc"] = r.test_eval.accuracy;
    state.counters["l2"] = r.l2;
  }
}

void train_auto_candidates(benchmark::State& state, bool with_random_features) {
  const int n = env_int("IRBIS_BENCH_AUTO_ROWS", 10000), K = 11;
  const Data full = make_data(n, 2696, K, 2), blocks = make_data(n, 3720, K, 3);
  cv::Mat sqrt_blocks = blocks.X.clone();
  for (int i = 0; i < n; ++i) {
    float* r = sqrt_blocks.ptr<float>(i);
    for (int j = 0; j < sqrt_blocks.cols; ++j) r[j] = std::copysign(std::sqrt(std::fabs(r[j])), r[j]);
    cv::Mat row = sqrt_blocks.row(i);
    row /= cv::norm(row);
  }
  irbis::TrainOptions o;
  for (auto _ : state) {
    // The random-feature candidate (not a default one; its cost for the record) is made inside
    // the timed loop: `irbis train --input blocks-sqrt-rff` maps every image.
    std::vector<irbis::ClassifierCandidate> c = {{irbis::ClassifierInput::full, full.X, {}},
                                                 {irbis::ClassifierInput::blocks, blocks.X, {}},
                                                 {irbis::ClassifierInput::blocks_sqrt, sqrt_blocks, {}}};
    if (with_random_features) c.push_back(irbis::random_feature_candidate(sqrt_blocks));
    const irbis::TrainResult r = irbis::train_classifier(c, full.y, full.classes, o);
    state.counters["test_acc"] = r.test_eval.accuracy;
    state.counters["input"] = int(r.input);
    state.counters["l2"] = r.l2;
    state.counters["cv_rows"] = r.cv_images;
  }
  state.counters["rows"] = n;
}

void train_auto(benchmark::State& state) { train_auto_candidates(state, false); }
void train_auto_with_rff(benchmark::State& state) { train_auto_candidates(state, true); }

}  // namespace

BENCHMARK(train_auto)->Iterations(1)->Unit(benchmark::kSecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(train_auto_with_rff)->Iterations(1)->Unit(benchmark::kSecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(fit)->Iterations(1)->Unit(benchmark::kSecond)->MeasureProcessCPUTime()->UseRealTime();
BENCHMARK(train)->Iterations(1)->Unit(benchmark::kSecond)->MeasureProcessCPUTime()->UseRealTime();

BENCHMARK_MAIN();
